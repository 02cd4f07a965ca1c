using System.Globalization;
using System.Net;
using System.Text.Json;
using Inference.Gateway.Api;
using Microsoft.AspNetCore.Http;

namespace Inference.Gateway.Http;

/// <summary>Writes OpenAI error responses: status, Retry-After / x-ratelimit-* headers, the error object.</summary>
internal static class HttpErrors
{
    /// <summary>
    /// Kestrel's verdict on a request's framing or pace (a bad chunk, a body cut short or arriving too slowly, a
    /// body over a limit), met while reading the body: the client's fault, answered with the status Kestrel chose.
    /// </summary>
    public static ApiException ClientFault(BadHttpRequestException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        (string code, string message) = ex.StatusCode switch
        {
            StatusCodes.Status408RequestTimeout => ("request_timeout", "The request body arrived too slowly or stopped arriving."),
            StatusCodes.Status413PayloadTooLarge => ("request_too_large", "The request body is too large."),
            _ => ("invalid_request_body", $"The request body is not valid HTTP/1.1: {ex.Message}"),
        };
        return new ApiException((HttpStatusCode)ex.StatusCode, "invalid_request_error", code, null, message);
    }

    public static async Task WriteAsync(HttpContext context, ApiException error)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = (int)error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfter is { } retry)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        if (error.Headers is not null)
        {
            foreach ((string name, string value) in error.Headers)
            {
                response.Headers[name] = value;
            }
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            OpenAIResponse.WriteError(w, error.Type, error.Code, error.Message, error.Param);
        }

        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
    }
}

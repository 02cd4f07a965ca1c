using System.Globalization;
using System.Text.Json;
using Inference.Gateway.Api;
using Microsoft.AspNetCore.Http;

namespace Inference.Gateway.Http;

/// <summary>Writes OpenAI error responses: status, Retry-After / x-ratelimit-* headers, the error object.</summary>
internal static class HttpErrors
{
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

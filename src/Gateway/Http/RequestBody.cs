using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Inference.Gateway.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Inference.Gateway.Http;

/// <summary>Reads a JSON request body: 415 for another content type, 413 past the size limit.</summary>
internal static class RequestBody
{
    public static async Task<ReadOnlyMemory<byte>> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out MediaTypeHeaderValue? type)
            || !(type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                 || type.MediaType.Value?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) == true))
        {
            throw new ApiException(
                HttpStatusCode.UnsupportedMediaType, "invalid_request_error", "unsupported_media_type", null,
                $"Unsupported content type '{request.ContentType ?? "(none)"}': send the request as application/json.");
        }

        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(request, maxBytes);
        }

        PipeReader reader = request.BodyReader;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length > maxBytes)
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw TooLarge(request, maxBytes);
            }

            if (result.IsCompleted)
            {
                byte[] body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return body;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End); // want more
        }
    }

    private static ApiException TooLarge(HttpRequest request, long maxBytes)
    {
        // The rest of the body is not read: close rather than have Kestrel drain megabytes to keep the connection.
        request.HttpContext.Response.Headers.Connection = "close";
        return new(HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large", null,
            $"The request body is larger than the limit of {maxBytes} bytes.");
    }
}

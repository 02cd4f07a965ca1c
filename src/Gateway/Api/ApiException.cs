using System.Net;
using Inference.Scheduler;

namespace Inference.Gateway.Api;

/// <summary>
/// A request refused with an OpenAI error object (<c>{"error":{"message","type","param","code"}}</c>).
/// Thrown before the first byte of a response; the HTTP layer writes it with its status, the gRPC layer
/// maps the status to a gRPC code. Never carries secrets.
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(HttpStatusCode status, string type, string? code, string? param, string message)
        : base(message)
    {
        Status = status;
        Type = type;
        Code = code;
        Param = param;
    }

    public ApiException()
        : this(HttpStatusCode.InternalServerError, "server_error", "internal_error", null, "internal error")
    {
    }

    public ApiException(string message)
        : this(HttpStatusCode.BadRequest, "invalid_request_error", "invalid_value", null, message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = HttpStatusCode.BadRequest;
        Type = "invalid_request_error";
        Code = "invalid_value";
    }

    public HttpStatusCode Status { get; }

    public string Type { get; }

    public string? Code { get; }

    public string? Param { get; }

    /// <summary>Seconds the client should wait before retrying (429, 503), written as Retry-After.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Extra response headers (x-ratelimit-*).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>
    /// Renders a refusal decided in the worker (or the gateway's pool) with its message, param, code and
    /// retry-after unchanged; only the HTTP status and error type come from its kind.
    /// </summary>
    public static ApiException From(Refusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return refusal.Kind switch
        {
            RefusalKind.Invalid => Invalid(refusal.Param, refusal.Message, refusal.Code ?? "invalid_value"),
            RefusalKind.Overloaded => Unavailable(refusal.Message, refusal.RetryAfter ?? TimeSpan.FromSeconds(1), refusal.Code ?? "overloaded"),
            RefusalKind.Unavailable => Unavailable(refusal.Message, refusal.RetryAfter ?? TimeSpan.FromSeconds(2), refusal.Code ?? "no_worker_available"),
            _ => new ApiException(HttpStatusCode.InternalServerError, "server_error", refusal.Code ?? "worker_error", null, refusal.Message),
        };
    }

    /// <summary>The same refusal naming another parameter (e.g. its proto field path for a gRPC caller).</summary>
    public ApiException WithParam(string? param) =>
        new(Status, Type, Code, param, Message) { RetryAfter = RetryAfter, Headers = Headers };

    public static ApiException Invalid(string? param, string message, string code = "invalid_value") =>
        new(HttpStatusCode.BadRequest, "invalid_request_error", code, param, message);

    public static ApiException Missing(string param) =>
        new(HttpStatusCode.BadRequest, "invalid_request_error", "missing_required_parameter", param, $"'{param}' is a required property.");

    public static ApiException WrongType(string param, string expected) =>
        new(HttpStatusCode.BadRequest, "invalid_request_error", "invalid_type", param, $"'{param}' must be {expected}.");

    public static ApiException ModelNotFound(string model) =>
        new(HttpStatusCode.NotFound, "invalid_request_error", "model_not_found", "model", $"The model '{model}' does not exist or you do not have access to it.");

    public static ApiException Unavailable(string message, TimeSpan retryAfter, string code = "overloaded") =>
        new(HttpStatusCode.ServiceUnavailable, "server_error", code, null, message) { RetryAfter = retryAfter };

    public static ApiException Unauthorized(string message) =>
        new(HttpStatusCode.Unauthorized, "invalid_request_error", "invalid_api_key", null, message);
}

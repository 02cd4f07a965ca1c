using Grpc.Core;

namespace Inference.Client;

/// <summary>
/// The gateway refused or failed a call: the gRPC status, and what the status details and trailers say about it
/// (the refused field, when to retry, the error code).
/// </summary>
public sealed class InferenceServiceException : Exception
{
    /// <summary>Creates the exception; <see cref="InferenceChatClient"/> builds it from an <see cref="RpcException"/>.</summary>
    public InferenceServiceException(StatusCode statusCode, string message, string? field = null, TimeSpan? retryAfter = null, string? errorCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Field = field;
        RetryAfter = retryAfter;
        ErrorCode = errorCode;
    }

    /// <summary>The call's status: InvalidArgument (a bad or unsupported parameter, see <see cref="Field"/>),
    /// Unauthenticated, NotFound (unknown model), ResourceExhausted (rate limit or budget), Unavailable (retry),
    /// Internal (failed after it started streaming).</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The request field the server refused, as a proto field path (<c>sampling.temperature</c>, <c>model</c>).</summary>
    public string? Field { get; }

    /// <summary>How long the server asked the caller to wait (rate limits, overload).</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The <c>error-code</c> trailer (<c>rate_limit_exceeded</c>, <c>insufficient_quota</c>), if any.</summary>
    public string? ErrorCode { get; }

    /// <summary>True for statuses where the same request may succeed later (Unavailable, ResourceExhausted with a retry delay).</summary>
    public bool IsTransient => StatusCode == StatusCode.Unavailable || (StatusCode == StatusCode.ResourceExhausted && RetryAfter is not null);
}

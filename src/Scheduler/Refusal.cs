namespace Inference.Scheduler;

/// <summary>
/// Why a request was refused, decided once where the rule lives (the admission rule, the engine's queue
/// bounds, sampling ranges) and carried unchanged to the edges that render it: the HTTP error object
/// (message, param, code, Retry-After) and the gRPC status. Never carries secrets.
/// </summary>
/// <param name="Kind">What the caller can do about it.</param>
/// <param name="Message">A sentence for a person, with the numbers that decided it.</param>
public sealed record Refusal(RefusalKind Kind, string Message)
{
    /// <summary>The API's name for the parameter at fault (e.g. "max_tokens"), for Invalid.</summary>
    public string? Param { get; init; }

    /// <summary>A stable machine-readable code (OpenAI's "code" field), e.g. "context_length_exceeded".</summary>
    public string? Code { get; init; }

    /// <summary>How long a caller should wait before retrying (Overloaded, Unavailable).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>True when another worker (or a later attempt) might accept the request.</summary>
    public bool Retryable => Kind is RefusalKind.Overloaded or RefusalKind.Unavailable;

    public static Refusal Invalid(string? param, string message, string? code = null) =>
        new(RefusalKind.Invalid, message) { Param = param, Code = code };

    public static Refusal Overloaded(string message, TimeSpan retryAfter) =>
        new(RefusalKind.Overloaded, message) { Code = "overloaded", RetryAfter = retryAfter };

    public static Refusal Unavailable(string message, TimeSpan retryAfter, string code = "no_worker_available") =>
        new(RefusalKind.Unavailable, message) { Code = code, RetryAfter = retryAfter };
}

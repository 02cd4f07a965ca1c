namespace Inference.Gateway.Quotas;

/// <summary>The outcome of <see cref="QuotaManager.AdmitAsync"/>.</summary>
public sealed class AdmissionDecision
{
    internal AdmissionDecision(
        QuotaRejection kind,
        QuotaLimit limit,
        string message,
        TimeSpan? retryAfter,
        RateLimitHeaders headers,
        Reservation? reservation)
    {
        Kind = kind;
        Limit = limit;
        Message = message;
        RetryAfter = retryAfter;
        Headers = headers;
        Reservation = reservation;
    }

    /// <summary>True when the request may run; then <see cref="Reservation"/> is set and must be completed.</summary>
    public bool Admitted => Kind == QuotaRejection.None;

    /// <summary>Why it was refused; <see cref="QuotaRejection.None"/> when admitted.</summary>
    public QuotaRejection Kind { get; }

    /// <summary>Which limit refused it; <see cref="QuotaLimit.None"/> when admitted.</summary>
    public QuotaLimit Limit { get; }

    /// <summary>For the client: which limit and whose, e.g. "requests per minute limit (60) reached for this key". Empty when admitted.</summary>
    public string Message { get; }

    /// <summary>
    /// When to try again, in whole seconds (at least 1 s): until the window has room (rate limits), a guess of 1 s
    /// (concurrency), or until the budget period resets at UTC midnight / the first of the month (quota).
    /// Null when admitted, or when the request can never fit (it alone needs more than the limit).
    /// </summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>x-ratelimit-* values, for admitted and refused requests alike.</summary>
    public RateLimitHeaders Headers { get; }

    /// <summary>The admitted request's reservation; complete it exactly once when the request ends, however it ends.</summary>
    public Reservation? Reservation { get; }
}

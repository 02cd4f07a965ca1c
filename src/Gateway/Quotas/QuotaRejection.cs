namespace Inference.Gateway.Quotas;

/// <summary>Why an admission was refused; maps to the HTTP 429 error code.</summary>
public enum QuotaRejection
{
    /// <summary>Admitted.</summary>
    None,

    /// <summary>Requests or tokens per minute: <c>rate_limit_exceeded</c>, retryable after <see cref="AdmissionDecision.RetryAfter"/>.</summary>
    RateLimit,

    /// <summary>Too many requests in flight: <c>rate_limit_exceeded</c>, retryable.</summary>
    Concurrency,

    /// <summary>Daily or monthly token budget spent: <c>insufficient_quota</c>, not retryable before the period resets.</summary>
    Quota,
}

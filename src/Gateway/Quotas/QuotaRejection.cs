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

    /// <summary>
    /// The shared limits store is unreachable and the key or its tenant has a token budget, which one replica cannot
    /// enforce: 503 <c>limits_store_unavailable</c>, retryable.
    /// </summary>
    StoreUnavailable,
}

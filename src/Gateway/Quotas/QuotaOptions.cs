namespace Inference.Gateway.Quotas;

/// <summary>Settings of <see cref="QuotaManager"/>.</summary>
public sealed class QuotaOptions
{
    /// <summary>
    /// Longest a concurrency slot stays held when its reservation is never completed (a replica crashed).
    /// Must exceed the longest request. Default 15 minutes.
    /// </summary>
    public TimeSpan ConcurrencyLease { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Retry-After suggested when the concurrency limit refuses (no way to know when a slot frees). Default 1 s.</summary>
    public TimeSpan ConcurrencyRetryAfter { get; set; } = TimeSpan.FromSeconds(1);
}

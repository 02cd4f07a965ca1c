namespace Inference.Gateway.Caching;

/// <summary>Defaults of the response cache.</summary>
public static class ResponseCacheDefaults
{
    /// <summary>How long a response stays cached unless configured otherwise: 24 hours.</summary>
    public static TimeSpan Ttl { get; } = TimeSpan.FromHours(24);

    /// <summary>Default byte bound of <see cref="MemoryResponseCache"/>: 256 MiB.</summary>
    public const long MaxBytes = 256L * 1024 * 1024;
}

namespace Inference.Gateway.Caching;

/// <summary>A snapshot of <see cref="MemoryResponseCache"/>'s counters.</summary>
/// <param name="Hits">Lookups that found a live entry.</param>
/// <param name="Misses">Lookups that found nothing or an expired entry.</param>
/// <param name="Evictions">Entries dropped to stay under the byte bound.</param>
/// <param name="Expirations">Entries dropped because their TTL passed.</param>
/// <param name="Entries">Entries held now.</param>
/// <param name="Bytes">Bytes held now (values plus keys as UTF-16).</param>
public readonly record struct CacheStatistics(long Hits, long Misses, long Evictions, long Expirations, long Entries, long Bytes);

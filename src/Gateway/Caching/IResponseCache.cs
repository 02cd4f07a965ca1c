namespace Inference.Gateway.Caching;

/// <summary>
/// Storage for cached responses by exact key (the key is computed by the HTTP layer from the normalised
/// request). <see cref="MemoryResponseCache"/> in process, <see cref="RedisResponseCache"/> shared by replicas.
/// </summary>
public interface IResponseCache
{
    /// <summary>The stored value, or null when absent or expired. Callers must not modify the returned array.</summary>
    ValueTask<byte[]?> GetAsync(string key, CancellationToken ct);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/> for <paramref name="ttl"/> (see <see cref="ResponseCacheDefaults.Ttl"/>).</summary>
    ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan ttl, CancellationToken ct);
}

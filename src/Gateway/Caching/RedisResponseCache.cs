using StackExchange.Redis;

namespace Inference.Gateway.Caching;

/// <summary>
/// Response cache in Redis, shared by gateway replicas: one string per entry at <c>{prefix}{key}</c> with the TTL
/// as its expiry. Memory is bounded by the server's <c>maxmemory</c> and eviction policy (allkeys-lru suits it).
/// </summary>
public sealed class RedisResponseCache : IResponseCache
{
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;

    /// <summary>Creates the cache; keys are stored under <paramref name="prefix"/> (e.g. "cache:").</summary>
    public RedisResponseCache(IConnectionMultiplexer redis, string prefix = "cache:")
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(prefix);
        _redis = redis;
        _prefix = prefix;
    }

    /// <inheritdoc/>
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        var value = await _redis.GetDatabase().StringGetAsync(_prefix + key).WaitAsync(ct).ConfigureAwait(false);
        return value.IsNull ? null : (byte[]?)value;
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan ttl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        await _redis.GetDatabase().StringSetAsync(_prefix + key, value, ttl).WaitAsync(ct).ConfigureAwait(false);
    }
}

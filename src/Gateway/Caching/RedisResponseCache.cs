using Inference.Gateway.Redis;
using StackExchange.Redis;

namespace Inference.Gateway.Caching;

/// <summary>
/// Response cache in Redis, shared by gateway replicas: one string per entry at <c>{prefix}{key}</c> with the TTL
/// as its expiry. Memory is bounded by the server's <c>maxmemory</c> and eviction policy (allkeys-lru suits it).
/// With a <see cref="RedisStoreMonitor"/>, an unreachable server is a miss and a skipped store, never an error:
/// while it is down the cache is not tried at all.
/// </summary>
public sealed class RedisResponseCache : IResponseCache
{
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly RedisStoreMonitor? _monitor;

    /// <summary>Creates the cache; keys are stored under <paramref name="prefix"/> (e.g. "cache:").</summary>
    public RedisResponseCache(IConnectionMultiplexer redis, string prefix = "cache:", RedisStoreMonitor? monitor = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(prefix);
        _redis = redis;
        _prefix = prefix;
        _monitor = monitor;
    }

    /// <inheritdoc/>
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_monitor is { IsUp: false })
        {
            return null;
        }

        try
        {
            var value = await _redis.GetDatabase().StringGetAsync(_prefix + key).WaitAsync(ct).ConfigureAwait(false);
            return value.IsNull ? null : (byte[]?)value;
        }
        catch (Exception ex) when (_monitor?.TryReportOutage(ex) == true)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan ttl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (ttl <= TimeSpan.Zero || _monitor is { IsUp: false })
        {
            return;
        }

        try
        {
            await _redis.GetDatabase().StringSetAsync(_prefix + key, value, ttl).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (_monitor?.TryReportOutage(ex) == true)
        {
            // skipped: the store is down
        }
    }
}

using Inference.Gateway.Caching;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Caching;

/// <summary><see cref="RedisResponseCache"/> against a real RESP server; run against redis-server and Garnet (the subclasses).</summary>
public abstract class RedisResponseCacheTests(RespServerFixture redis) : ResponseCacheContractTests
{
    private readonly string _prefix = (redis.SkipReason is null ? redis.NewPrefix() : "skipped") + ":cache:";
    private RedisResponseCache? _cache;

    protected override IResponseCache Cache => _cache ??= new RedisResponseCache(redis.Connection, _prefix);

    protected override TimeSpan ShortTtl => TimeSpan.FromMilliseconds(500);

    protected override async Task LetExpireAsync(string key)
    {
        // The server expires by its own clock; the TTL must be set, then the key must go.
        // On a loaded machine the key may already be gone; if not, it must carry the short TTL.
        var ttl = await redis.Connection.GetDatabase().KeyTimeToLiveAsync(_prefix + key);
        if (ttl is not null || await redis.Connection.GetDatabase().KeyExistsAsync(_prefix + key))
        {
            Assert.NotNull(ttl);
            Assert.True(ttl <= ShortTtl);
        }

        while (await redis.Connection.GetDatabase().KeyExistsAsync(_prefix + key))
        {
            await Task.Delay(20);
        }
    }

    [ServerFact]
    public async Task SetAsync_OtherReplica_SeesValue()
    {
        var replica = new RedisResponseCache(await redis.ConnectAsync(), _prefix);

        await Cache.SetAsync("shared", new byte[] { 1, 2, 3 }, ResponseCacheDefaults.Ttl, default).Within();

        Assert.Equal(new byte[] { 1, 2, 3 }, await replica.GetAsync("shared", default).Within());
    }
}

/// <summary>On Debian's redis-server (skipped, with the reason, when it is not installed).</summary>
[Collection(RedisCollection.Name)]
[RequiresRedisServer]
public sealed class RedisResponseCacheOnRedisServerTests(RedisServerFixture redis) : RedisResponseCacheTests(redis);

/// <summary>On Garnet hosted in the test process.</summary>
[Collection(GarnetCollection.Name)]
public sealed class RedisResponseCacheOnGarnetTests(GarnetServerFixture garnet) : RedisResponseCacheTests(garnet);

using Inference.Gateway.Keys;
using Inference.Gateway.Quotas;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Quotas;

/// <summary>
/// <see cref="RedisQuotaStore"/> against a real RESP server: the shared contract plus what is specific to Redis.
/// The same suite runs against Debian's redis-server and against Garnet (the subclasses), so the Lua scripts are
/// checked on both.
/// </summary>
public abstract class RedisQuotaStoreTests(RespServerFixture redis) : QuotaStoreContractTests
{
    private readonly string _prefix = redis.SkipReason is null ? redis.NewPrefix() : "skipped";

    protected override Task<IQuotaStore> CreateStoreAsync() => Task.FromResult<IQuotaStore>(new RedisQuotaStore(redis.Connection, _prefix));

    // A second replica: its own ConnectionMultiplexer, same server and prefix.
    protected override async Task<IQuotaStore> CreateReplicaAsync(IQuotaStore store) => new RedisQuotaStore(await redis.ConnectAsync(), _prefix);

    [ServerFact]
    public async Task AdmitAsync_Admitted_EveryKeyHasExpiry()
    {
        var quotas = new QuotaManager(await CreateStoreAsync(), Time);
        var limits = new Limits(60, 1000, 2, 1000, 1000);
        var key = new ApiKey("aaaaaaaaaaaaaaaa", "sk-…", "acme", Tier.Basic);

        var decision = await quotas.AdmitAsync(key, limits, limits, 10, default).Within();

        Assert.True(decision.Admitted);
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        var keys = server.Keys(pattern: _prefix + ":*").ToList();
        Assert.Equal(10, keys.Count);
        foreach (var k in keys)
        {
            Assert.NotNull(await redis.Connection.GetDatabase().KeyTimeToLiveAsync(k).Within());
        }
    }

    [ServerFact]
    public async Task AbsorbAsync_Twice_CountsOnce_InTheWindowOnlyWhileInsideIt()
    {
        // Usage admitted by a replica alone during an outage, added when the store is back (retried after a lost reply).
        var store = new RedisQuotaStore(redis.Connection, _prefix);
        var now = Time.GetUtcNow();
        long nowMs = now.ToUnixTimeMilliseconds();
        string day = now.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        string month = now.UtcDateTime.ToString("yyyyMM", System.Globalization.CultureInfo.InvariantCulture);
        QuotaScope[] scopes = [new QuotaScope("k:cccccccccccccccc", "acme", new Limits(RequestsPerMinute: 100, DailyTokens: 1000))];
        var inside = new QuotaAbsorbRequest("inside", scopes, nowMs - 1_000, 40, day, month, 60_000);
        var outside = new QuotaAbsorbRequest("outside", scopes, nowMs - 61_000, 5, day, month, 60_000);

        await store.AbsorbAsync(inside, nowMs, default).Within();
        await store.AbsorbAsync(inside, nowMs, default).Within();
        await store.AbsorbAsync(outside, nowMs, default).Within();

        var usage = (await store.TryAdmitAsync(new QuotaAdmitRequest("probe", nowMs, 0, scopes, day, month, 60_000, 900_000), default).Within()).Usage[0];
        Assert.Equal(1, usage.Requests);
        Assert.Equal(40, usage.Tokens);
        Assert.Equal(nowMs - 1_000, usage.OldestMs);
        Assert.Equal(45, usage.DayTokens);
        Assert.Equal(45, usage.MonthTokens);
    }
}

/// <summary>On Debian's redis-server (skipped, with the reason, when it is not installed).</summary>
[Collection(RedisCollection.Name)]
[RequiresRedisServer]
public sealed class RedisQuotaStoreOnRedisServerTests(RedisServerFixture redis) : RedisQuotaStoreTests(redis);

/// <summary>On Garnet hosted in the test process.</summary>
[Collection(GarnetCollection.Name)]
public sealed class RedisQuotaStoreOnGarnetTests(GarnetServerFixture garnet) : RedisQuotaStoreTests(garnet);

using Inference.Gateway.Keys;
using Inference.Gateway.Quotas;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Quotas;

[Collection(RedisCollection.Name)]
public sealed class RedisQuotaStoreTests(RedisServerFixture redis) : QuotaStoreContractTests
{
    private readonly string _prefix = redis.NewPrefix();

    protected override Task<IQuotaStore> CreateStoreAsync() => Task.FromResult<IQuotaStore>(new RedisQuotaStore(redis.Connection, _prefix));

    // A second replica: its own ConnectionMultiplexer, same server and prefix.
    protected override async Task<IQuotaStore> CreateReplicaAsync(IQuotaStore store) => new RedisQuotaStore(await redis.ConnectAsync(), _prefix);

    [Fact]
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
}

using Inference.Gateway.Caching;
using Inference.Gateway.Redis;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Caching;

/// <summary><see cref="RedisResponseCache"/> with a monitor while its real RESP server is killed and started again.</summary>
public sealed class RedisResponseCacheOutageTests
{
    [Fact]
    public async Task StoreKilled_GetIsMissAndSetIsSkipped_ThenCachesAgain()
    {
        await using OwnedRespServer server = await OwnedRespServer.StartAsync();
        await using var redis = await server.ConnectAsync();
        await using var monitor = new RedisStoreMonitor(redis, TimeProvider.System, server.Logger<RedisStoreMonitor>(), TimeSpan.FromMilliseconds(100));
        var cache = new RedisResponseCache(redis, "outage:", monitor);
        await cache.SetAsync("k", new byte[] { 1 }, ResponseCacheDefaults.Ttl, default).Within();
        Assert.Equal(new byte[] { 1 }, await cache.GetAsync("k", default).Within());

        await server.KillAsync();

        Assert.Null(await cache.GetAsync("k", default).Within());
        await cache.SetAsync("k", new byte[] { 2 }, ResponseCacheDefaults.Ttl, default).Within();
        Assert.Null(await cache.GetAsync("k", default).Within());
        Assert.False(monitor.IsUp);

        await server.RestartAsync();
        await Eventually.TrueAsync(() => monitor.IsUp, TimeSpan.FromSeconds(60), "the monitor sees the store back");

        await cache.SetAsync("k", new byte[] { 3 }, ResponseCacheDefaults.Ttl, default).Within();
        Assert.Equal(new byte[] { 3 }, await cache.GetAsync("k", default).Within());
        Assert.Single(server.Logs.Entries, e => e.EventId == 3201);
        Assert.Empty(server.Logs.Errors);
    }
}

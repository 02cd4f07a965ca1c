using Inference.Gateway.Caching;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Caching;

public sealed class MemoryResponseCacheTests : ResponseCacheContractTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly MemoryResponseCache _cache;

    public MemoryResponseCacheTests() => _cache = new MemoryResponseCache(1024 * 1024, _time);

    protected override IResponseCache Cache => _cache;

    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(5);

    protected override Task LetExpireAsync(string key)
    {
        _time.Advance(TimeSpan.FromSeconds(5));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task SetAsync_OverByteBound_EvictsLeastRecentlyUsed()
    {
        // Each entry: 100 value bytes + 2 key chars * 2 bytes = 104; room for three.
        var cache = new MemoryResponseCache(3 * 104, _time);
        var value = new byte[100];
        await cache.SetAsync("k1", value, ResponseCacheDefaults.Ttl, default).Within();
        await cache.SetAsync("k2", value, ResponseCacheDefaults.Ttl, default).Within();
        await cache.SetAsync("k3", value, ResponseCacheDefaults.Ttl, default).Within();
        Assert.NotNull(await cache.GetAsync("k1", default).Within()); // k2 is now least recently used

        await cache.SetAsync("k4", value, ResponseCacheDefaults.Ttl, default).Within();

        Assert.Null(await cache.GetAsync("k2", default).Within());
        Assert.NotNull(await cache.GetAsync("k1", default).Within());
        Assert.NotNull(await cache.GetAsync("k3", default).Within());
        Assert.NotNull(await cache.GetAsync("k4", default).Within());
        var stats = cache.GetStatistics();
        Assert.Equal(1, stats.Evictions);
        Assert.Equal(3, stats.Entries);
        Assert.Equal(3 * 104, stats.Bytes);
        Assert.Equal(4, stats.Hits);
        Assert.Equal(1, stats.Misses);
    }

    [Fact]
    public async Task SetAsync_ValueLargerThanBound_NotStoredAndEvictsNothing()
    {
        var cache = new MemoryResponseCache(200, _time);
        await cache.SetAsync("small", new byte[10], ResponseCacheDefaults.Ttl, default).Within();

        await cache.SetAsync("huge", new byte[500], ResponseCacheDefaults.Ttl, default).Within();

        Assert.Null(await cache.GetAsync("huge", default).Within());
        Assert.NotNull(await cache.GetAsync("small", default).Within());
    }

    [Fact]
    public async Task GetAsync_Expired_CountsExpirationAndFreesBytes()
    {
        await _cache.SetAsync("k", new byte[10], TimeSpan.FromMinutes(1), default).Within();
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Null(await _cache.GetAsync("k", default).Within());
        var stats = _cache.GetStatistics();
        Assert.Equal(1, stats.Expirations);
        Assert.Equal(0, stats.Bytes);
    }

    [Fact]
    public async Task SetAsync_Concurrent_StaysWithinBound()
    {
        var cache = new MemoryResponseCache(10_000, _time);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                await cache.SetAsync($"t{t}-{i}", new byte[100], ResponseCacheDefaults.Ttl, default);
                await cache.GetAsync($"t{t}-{i / 2}", default);
            }
        }))).Within();

        var stats = cache.GetStatistics();
        Assert.InRange(stats.Bytes, 1, 10_000);
        Assert.True(stats.Evictions > 0);
    }
}

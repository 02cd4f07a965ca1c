using System.Text;
using Inference.Gateway.Caching;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Caching;

/// <summary>What every <see cref="IResponseCache"/> must do.</summary>
public abstract class ResponseCacheContractTests
{
    protected abstract IResponseCache Cache { get; }

    /// <summary>A TTL short enough to wait out.</summary>
    protected abstract TimeSpan ShortTtl { get; }

    /// <summary>Returns once an entry stored with <see cref="ShortTtl"/> under <paramref name="key"/> has expired.</summary>
    protected abstract Task LetExpireAsync(string key);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [ServerFact]
    public async Task GetAsync_Unknown_ReturnsNull()
    {
        Assert.Null(await Cache.GetAsync("nope", default).Within());
    }

    [ServerFact]
    public async Task SetAsync_ThenGet_ReturnsSameBytes()
    {
        await Cache.SetAsync("k1", Bytes("hello"), ResponseCacheDefaults.Ttl, default).Within();

        Assert.Equal(Bytes("hello"), await Cache.GetAsync("k1", default).Within());
    }

    [ServerFact]
    public async Task SetAsync_TwoKeys_Isolated()
    {
        await Cache.SetAsync("a", Bytes("alpha"), ResponseCacheDefaults.Ttl, default).Within();
        await Cache.SetAsync("b", Bytes("beta"), ResponseCacheDefaults.Ttl, default).Within();
        await Cache.SetAsync("a", Bytes("alpha2"), ResponseCacheDefaults.Ttl, default).Within();

        Assert.Equal(Bytes("alpha2"), await Cache.GetAsync("a", default).Within());
        Assert.Equal(Bytes("beta"), await Cache.GetAsync("b", default).Within());
        Assert.Null(await Cache.GetAsync("A", default).Within());
    }

    [ServerFact]
    public async Task GetAsync_AfterTtl_ReturnsNull()
    {
        await Cache.SetAsync("short", Bytes("x"), ShortTtl, default).Within();
        await Cache.SetAsync("long", Bytes("y"), ResponseCacheDefaults.Ttl, default).Within();

        await LetExpireAsync("short").Within();

        Assert.Null(await Cache.GetAsync("short", default).Within());
        Assert.Equal(Bytes("y"), await Cache.GetAsync("long", default).Within());
    }
}

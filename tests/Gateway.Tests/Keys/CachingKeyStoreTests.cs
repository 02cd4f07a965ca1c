using Inference.Gateway.Keys;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Keys;

public sealed class CachingKeyStoreTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task FindAsync_WithinTtl_AsksInnerOncePerKey()
    {
        var inner = new CountingStore();
        var store = new CachingKeyStore(inner, _time, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

        Assert.NotNull(await store.FindAsync(CountingStore.Good, default).Within());
        Assert.NotNull(await store.FindAsync(CountingStore.Good, default).Within());
        Assert.Null(await store.FindAsync("sk-bad-key-xyz", default).Within());
        Assert.Null(await store.FindAsync("sk-bad-key-xyz", default).Within());

        Assert.Equal(2, inner.Lookups);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(await store.FindAsync(CountingStore.Good, default).Within());
        Assert.Equal(3, inner.Lookups);
    }

    [Fact]
    public async Task FindAsync_CachedKeyExpires_NotFound()
    {
        var inner = new CountingStore { ExpiresAt = _time.GetUtcNow().AddSeconds(1) };
        var store = new CachingKeyStore(inner, _time, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        Assert.NotNull(await store.FindAsync(CountingStore.Good, default).Within());

        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Null(await store.FindAsync(CountingStore.Good, default).Within());
    }

    private sealed class CountingStore : IKeyStore
    {
        public const string Good = "sk-good-key-123";

        public int Lookups { get; private set; }

        public DateTimeOffset? ExpiresAt { get; init; }

        public int Count => 1;

        public ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct)
        {
            Lookups++;
            return ValueTask.FromResult(presentedKey == Good ? new ApiKey("0123456789abcdef", "sk-goo…", "acme", Tier.Basic, ExpiresAt: ExpiresAt) : null);
        }
    }
}

using Inference.Gateway.Keys;
using Inference.Gateway.Quotas;

namespace Inference.Gateway.Tests.Keys;

public sealed class KeyHashTests
{
    [Fact]
    public void Sha256Hex_KnownValue_MatchesReference()
    {
        // printf 'abc' | sha256sum
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", KeyHash.Sha256Hex("abc"));
        Assert.Equal("ba7816bf8f01cfea", KeyHash.KeyIdOf(KeyHash.Sha256("abc")));
    }

    [Fact]
    public void Generate_Twice_DistinctSkBase64UrlKeys()
    {
        var a = ApiKeyGenerator.Generate();
        var b = ApiKeyGenerator.Generate();

        Assert.NotEqual(a, b);
        Assert.StartsWith("sk-", a);
        Assert.Equal(3 + 43, a.Length);
        Assert.Matches("^sk-[A-Za-z0-9_-]{43}$", a);
        Assert.Equal(a[..6] + "…", ApiKeyGenerator.DisplayPrefixOf(a));
    }

    [Fact]
    public void Merge_OverrideSetsSomeFields_OthersKept()
    {
        var merged = new Limits(10, 100, 2, 1000, 10000).Merge(new Limits(RequestsPerMinute: 50, DailyTokens: 5));

        Assert.Equal(new Limits(50, 100, 2, 5, 10000), merged);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(120, "120ms")]
    [InlineData(1000, "1s")]
    [InlineData(1200, "2s")]
    [InlineData(59_000, "59s")]
    [InlineData(360_000, "6m0s")]
    [InlineData(3_723_000, "1h2m3s")]
    public void FormatDuration_Values_OpenAiStyle(int ms, string expected)
    {
        Assert.Equal(expected, RateLimitHeaders.FormatDuration(TimeSpan.FromMilliseconds(ms)));
    }
}

using Inference.Gateway.Keys;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Scheduler;

namespace Inference.Gateway.Tests.Keys;

public sealed class FileKeyStoreTests
{
    private const string PlainKey = "sk-test-plain-key-0001";
    private const string HashedKey = "sk-test-hashed-key-0002";
    private readonly ManualTimeProvider _time = new();

    private string Json(string extraKey = "") => $$"""
        {
          // comments are allowed
          "tiers": { "free": { "requests_per_minute": 3, "priority": "standard" } },
          "tenants": { "acme": { "tokens_per_minute": 5000, "monthly_tokens": 100000 } },
          "keys": [
            { "name": "dev", "key": "{{PlainKey}}", "tenant": "acme", "tier": "free" },
            { "name": "prod", "sha256": "{{KeyHash.Sha256Hex(HashedKey)}}", "prefix": "sk-tes", "tenant": "acme",
              "tier": "premium", "limits": { "requests_per_minute": 600, "daily_tokens": null } },
            { "name": "off", "key": "sk-test-disabled-0003", "tenant": "acme", "tier": "basic", "disabled": true },
            { "name": "old", "key": "sk-test-expired-0004", "tenant": "acme", "tier": "basic", "expires_at": "2026-01-15T11:00:00Z" },
            { "name": "later", "key": "sk-test-expires-0005", "tenant": "globex", "tier": "enterprise", "expires_at": "2026-01-15T13:00:00Z" }{{extraKey}}
          ]
        }
        """;

    [Fact]
    public async Task FindAsync_PlainAndHashedKeys_FoundWithTenantTierAndLimits()
    {
        var store = FileKeyStore.Parse(Json(), "keys.json", _time);

        var dev = await store.FindAsync(PlainKey, default).Within();
        var prod = await store.FindAsync(HashedKey, default).Within();

        Assert.Equal(5, store.Count);
        Assert.NotNull(dev);
        Assert.Equal(KeyHash.Sha256Hex(PlainKey)[..16], dev.KeyId);
        Assert.Equal("sk-tes…", dev.DisplayPrefix);
        Assert.Equal(("acme", Tier.Free, "dev"), (dev.Tenant, dev.Tier, dev.Name));
        Assert.NotNull(prod);
        Assert.Equal("sk-tes…", prod.DisplayPrefix);
        Assert.Equal(600, prod.Limits!.RequestsPerMinute);
        Assert.Null(await store.FindAsync("sk-test-unknown-key", default).Within());
    }

    [Fact]
    public async Task ResolveAsync_TierOverridesAndTenantLimits_Applied()
    {
        var store = FileKeyStore.Parse(Json(), "keys.json", _time);
        var dev = (await store.FindAsync(PlainKey, default).Within())!;
        var prod = (await store.FindAsync(HashedKey, default).Within())!;

        var devLimits = await store.ResolveAsync(dev, default).Within();
        var prodLimits = await store.ResolveAsync(prod, default).Within();

        Assert.Equal(3, devLimits.Key.RequestsPerMinute);
        Assert.Equal(TierPolicy.Default.LimitsFor(Tier.Free).TokensPerMinute, devLimits.Key.TokensPerMinute);
        Assert.Equal(PriorityClass.Standard, devLimits.Priority);
        Assert.Equal(new Limits(TokensPerMinute: 5000, MonthlyTokens: 100000), devLimits.Tenant);
        Assert.Equal(600, prodLimits.Key.RequestsPerMinute);
        Assert.Equal(PriorityClass.Interactive, prodLimits.Priority);
        Assert.Equal(Limits.Unlimited, store.TenantLimits("globex"));
    }

    [Fact]
    public async Task FindAsync_DisabledOrExpired_NotFound()
    {
        var store = FileKeyStore.Parse(Json(), "keys.json", _time);

        Assert.Null(await store.FindAsync("sk-test-disabled-0003", default).Within());
        Assert.Null(await store.FindAsync("sk-test-expired-0004", default).Within());
        Assert.NotNull(await store.FindAsync("sk-test-expires-0005", default).Within());
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Null(await store.FindAsync("sk-test-expires-0005", default).Within());
    }

    [Fact]
    public async Task FindAsync_SameKeyIdDifferentHash_NotFound()
    {
        // Same first 8 bytes (the KeyId) as the real key, different after: only the full constant-time compare tells them apart.
        var real = KeyHash.Sha256(PlainKey);
        var impostor = (byte[])real.Clone();
        impostor[31] ^= 0xFF;
        var key = new ApiKey(KeyHash.KeyIdOf(impostor), "sk-…", "acme", Tier.Free);
        var store = new FileKeyStore([new FileKeyStore.Entry(impostor, key)], new Dictionary<string, Limits>(), TierPolicy.Default, _time);

        Assert.Null(await store.FindAsync(PlainKey, default).Within());
        Assert.Same(key, store.Find(impostor));
    }

    [Theory]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tenant": "a", "tier": "gold" } ] }""", "keys[0].tier", "unknown tier 'gold'")]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tier": "free" } ] }""", "keys[0].tenant", "missing")]
    [InlineData("""{ "keys": [ { "tenant": "a", "tier": "free" } ] }""", "keys[0].sha256", "missing")]
    [InlineData("""{ "keys": [ { "sha256": "abc", "tenant": "a", "tier": "free" } ] }""", "keys[0].sha256", "64 hex digits")]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tenant": "a", "tier": "free", "limits": { "daily_tokens": -5 } } ] }""", "keys[0].limits.daily_tokens", "whole number")]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tenant": "a", "tier": "free", "limits": { "request_per_minute": 5 } } ] }""", "keys[0].limits.request_per_minute", "unknown field")]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tenant": "a", "tier": "free" }, { "key": "sk-abcdefgh", "tenant": "b", "tier": "free" } ] }""", "keys[1]", "same key as keys[0]")]
    [InlineData("""{ "tenants": { "a": { "tokens_per_minute": "many" } }, "keys": [] }""", "tenants.a.tokens_per_minute", "whole number")]
    [InlineData("""{ "tiers": { "gold": {} }, "keys": [] }""", "tiers.gold", "unknown tier")]
    [InlineData("""{ "tiers": { "free": { "priority": "urgent" } }, "keys": [] }""", "tiers.free.priority", "unknown priority")]
    [InlineData("""{ "tenants": {} }""", "keys", "missing")]
    [InlineData("""{ "keys": [ }""", "$", "not valid JSON")]
    [InlineData("""{ "keys": [ { "key": "sk-abcdefgh", "tenant": "a", "tier": "free", "expires_at": "soon" } ] }""", "keys[0].expires_at", "ISO 8601")]
    public void Parse_Invalid_ErrorNamesFileAndField(string json, string field, string problem)
    {
        var error = Assert.Throws<KeyFileException>(() => FileKeyStore.Parse(json, "/etc/gateway/keys.json", _time));

        Assert.Equal("/etc/gateway/keys.json", error.Path);
        Assert.Equal(field, error.Field);
        Assert.StartsWith($"/etc/gateway/keys.json: {field}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Theory]
    [InlineData("keys[1].tier", 5, "unknown tier 'gold'")]
    [InlineData("keys[2]", 6, "same key as keys[0]")]
    [InlineData("tenants.acme.daily_tokens", 2, "whole number")]
    [InlineData("colour", 8, "unknown field")]
    public void Parse_InvalidField_ErrorNamesItsLine(string field, int line, string problem)
    {
        string json = field switch
        {
            "keys[1].tier" => """
                {
                  "tenants": { "acme": {} },
                  "keys": [
                    { "key": "sk-abcdefgh", "tenant": "acme", "tier": "free" },
                    { "key": "sk-ijklmnop", "tenant": "acme", "tier": "gold" }
                  ]
                }
                """,
            "keys[2]" => """
                {
                  "keys": [
                    { "key": "sk-abcdefgh", "tenant": "acme", "tier": "free" },
                    // a comment line still counts
                    { "key": "sk-ijklmnop", "tenant": "acme", "tier": "free" },
                    { "key": "sk-abcdefgh", "tenant": "acme", "tier": "free" },
                  ]
                }
                """,
            "tenants.acme.daily_tokens" => """
                { "keys": [],
                  "tenants": { "acme": { "daily_tokens": -1 } } }
                """,
            _ => """
                {
                  "keys": [
                    { "key": "sk-abcdefgh", "tenant": "acme", "tier": "free" }
                  ],



                  "colour": "blue"
                }
                """,
        };

        var error = Assert.Throws<KeyFileException>(() => FileKeyStore.Parse(json, "keys.json", _time));

        Assert.Equal(field, error.Field);
        Assert.Equal(line, error.Line);
        Assert.Contains(problem, error.Message);
        Assert.EndsWith($"(line {line})", error.Message);
    }

    [Fact]
    public void Parse_BadSyntax_ErrorNamesItsLine()
    {
        var error = Assert.Throws<KeyFileException>(() => FileKeyStore.Parse("{\n  \"keys\": [\n    { \"key\": sk-abc }\n  ]\n}", "keys.json", _time));

        Assert.Equal(3, error.Line);
        Assert.Contains("line 3", error.Message);
    }

    [Fact]
    public void Parse_PlainKeyError_NeverShowsTheKey()
    {
        var json = """{ "keys": [ { "key": "sk-secret-value-123", "tenant": "a", "tier": "gold" } ] }""";

        var error = Assert.Throws<KeyFileException>(() => FileKeyStore.Parse(json, "keys.json"));

        Assert.DoesNotContain("sk-secret-value-123", error.Message);
    }

    [Fact]
    public void Load_MissingFile_ErrorNamesFile()
    {
        var error = Assert.Throws<KeyFileException>(() => FileKeyStore.Load("/nonexistent/keys.json"));

        Assert.Equal("/nonexistent/keys.json", error.Path);
    }

    [Fact]
    public async Task Load_ExampleFileAtRepoRoot_IsValid()
    {
        // Build output lives outside the repo (--artifacts-path), so start from this source file.
        var root = ThisFile();
        while (!File.Exists(Path.Combine(root, "Inference.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repo root not found");
        }

        var store = FileKeyStore.Load(Path.Combine(root, "keys.example.json"), _time);

        Assert.True(store.Count > 0);
        Assert.NotNull(await store.FindAsync("sk-local-dev-key-change-me", default).Within());
    }

    private static string ThisFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;
}

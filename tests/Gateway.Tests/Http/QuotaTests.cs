using System.Net;
using System.Text.Json;
using Inference.Gateway.Hosting;
using Inference.Gateway.Quotas;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>Rate limits and budgets over HTTP with exact numbers, in memory and across two replicas sharing one redis-server.</summary>
[Collection(ModelCollection.Name)]
public sealed class QuotaTests(ModelFixture model, DefaultRespServerFixture redis) : IClassFixture<DefaultRespServerFixture>
{
    private const string M = ModelFixture.ModelName;

    [Fact]
    public async Task SixtyRpm_Request61InTheWindow_Is429WithRetryAfterAndHeaders()
    {
        const string key = "sk-test-rpm-0123456789abcdef";
        await using TestGateway gateway = await TestGateway.StartAsync(
            [model.Worker], $$$"""{"keys":[{"key":"{{{key}}}","tenant":"rpm","tier":"enterprise","limits":{"requests_per_minute":60}}]}""");
        string body = $$$"""{"model":"{{{M}}}","prompt":"hi","max_tokens":1,"temperature":0}""";

        for (int i = 0; i < 60; i++)
        {
            using HttpResponseMessage ok = await gateway.PostAsync("/v1/completions", body, key, completion: HttpCompletionOption.ResponseContentRead);
            Assert.True(ok.StatusCode == HttpStatusCode.OK, $"request {i + 1}: {ok.StatusCode} {await ok.Content.ReadAsStringAsync()}");
            Assert.Equal($"{59 - i}", ok.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        }

        using HttpResponseMessage refused = await gateway.PostAsync("/v1/completions", body, key);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        JsonElement error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("60", refused.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("0", refused.Headers.GetValues("x-ratelimit-remaining-requests").Single());
    }

    [Fact]
    public async Task FiftyConcurrent_BudgetFitsOne_AtMostOneAdmitted_InMemory()
    {
        const string key = "sk-test-budget-mem-0123456789";
        await using TestGateway gateway = await TestGateway.StartAsync([model.Worker], BudgetKeys(key));

        (int admitted, int quota) = await FireFiftyAsync([gateway], key);

        Assert.Equal(1, admitted);
        Assert.Equal(49, quota);
    }

    [Fact]
    public async Task FiftyConcurrent_BudgetFitsOne_AtMostOneAdmitted_AcrossTwoReplicasSharingRedis()
    {
        const string key = "sk-test-budget-redis-012345";
        string prefix = redis.NewPrefix();
        await using StackExchange.Redis.ConnectionMultiplexer c1 = await redis.ConnectAsync();
        await using StackExchange.Redis.ConnectionMultiplexer c2 = await redis.ConnectAsync();
        await using TestGateway a = await TestGateway.StartAsync([model.Worker], BudgetKeys(key), dependencies: new GatewayDependencies { QuotaStore = new RedisQuotaStore(c1, prefix) });
        await using TestGateway b = await TestGateway.StartAsync([model.Worker], BudgetKeys(key), dependencies: new GatewayDependencies { QuotaStore = new RedisQuotaStore(c2, prefix) });

        (int admitted, int quota) = await FireFiftyAsync([a, b], key);

        Assert.Equal(1, admitted);
        Assert.Equal(49, quota);
    }

    [Fact]
    public async Task ResponseCache_SharedThroughRedis_SecondReplicaHits()
    {
        const string key = "sk-test-shared-cache-01234567";
        string prefix = redis.NewPrefix() + ":cache:";
        await using StackExchange.Redis.ConnectionMultiplexer c1 = await redis.ConnectAsync();
        await using StackExchange.Redis.ConnectionMultiplexer c2 = await redis.ConnectAsync();
        string keys = $$$"""{"keys":[{"key":"{{{key}}}","tenant":"shared","tier":"enterprise"}]}""";
        await using TestGateway a = await TestGateway.StartAsync([model.Worker], keys, dependencies: new GatewayDependencies { ResponseCache = new Inference.Gateway.Caching.RedisResponseCache(c1, prefix) });
        await using TestGateway b = await TestGateway.StartAsync([model.Worker], keys, dependencies: new GatewayDependencies { ResponseCache = new Inference.Gateway.Caching.RedisResponseCache(c2, prefix) });
        string body = $$$"""{"model":"{{{M}}}","prompt":"shared cache {{{Guid.NewGuid():N}}}","max_tokens":6,"temperature":0}""";

        using HttpResponseMessage first = await a.PostAsync("/v1/completions", body, key);
        using HttpResponseMessage second = await b.PostAsync("/v1/completions", body, key);

        Assert.Equal("miss", first.Headers.GetValues("x-cache").Single());
        Assert.Equal("hit", second.Headers.GetValues("x-cache").Single());
        string Text(string json) => JsonDocument.Parse(json).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(Text(await first.Content.ReadAsStringAsync()), Text(await second.Content.ReadAsStringAsync()));
    }

    // A store handed in without failover (a platform's own RedisQuotaStore) still fails as a clean 503; with --redis
    // the gateway wraps its store in a FailoverQuotaStore and keeps serving instead (StoreOutageTests).
    [Fact]
    public async Task QuotaStoreWithoutFailover_Down_Is503WithErrorObject_AndTheGatewayKeepsServing()
    {
        const string key = "sk-test-store-down-0123456789";
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port; // free once stopped: nothing listens there
        }

        await using StackExchange.Redis.ConnectionMultiplexer dead = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(
            $"127.0.0.1:{port},abortConnect=false,connectTimeout=200,syncTimeout=500,asyncTimeout=500");
        await using TestGateway gateway = await TestGateway.StartAsync(
            [model.Worker], $$$"""{"keys":[{"key":"{{{key}}}","tenant":"down","tier":"enterprise"}]}""",
            dependencies: new GatewayDependencies { QuotaStore = new RedisQuotaStore(dead, redis.NewPrefix()) });
        gateway.ErrorsExpected = true; // the store failure is logged as an error, by design

        using HttpResponseMessage response = await gateway.PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"hi","max_tokens":1}""", key);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("server_error", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, (await gateway.Http.GetAsync("/health")).StatusCode);
    }

    // One request reserves prompt + 16 tokens and (min_tokens = max_tokens) uses them all: the budget fits one.
    private static string BudgetKeys(string key) =>
        $$$"""{"keys":[{"key":"{{{key}}}","tenant":"budget-{{{key[^6..]}}}","tier":"enterprise","limits":{"daily_tokens":30}}]}""";

    private static async Task<(int Admitted, int Quota)> FireFiftyAsync(TestGateway[] gateways, string key)
    {
        string body = $$$"""{"model":"{{{M}}}","prompt":"Budget","max_tokens":16,"min_tokens":16,"temperature":0.5}""";
        using var start = new SemaphoreSlim(0);
        Task<HttpResponseMessage>[] calls = Enumerable.Range(0, 50).Select(async i =>
        {
            await start.WaitAsync();
            return await gateways[i % gateways.Length].PostAsync("/v1/completions", body, key);
        }).ToArray();
        start.Release(50);
        HttpResponseMessage[] responses = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(120));
        int admitted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        int quota = 0;
        foreach (HttpResponseMessage r in responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests))
        {
            string code = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString()!;
            Assert.Equal("insufficient_quota", code);
            quota++;
        }

        foreach (HttpResponseMessage r in responses)
        {
            r.Dispose();
        }

        return (admitted, quota);
    }
}

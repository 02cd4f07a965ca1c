using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Two gateway replicas started with --redis (their own connection, as in production) while the RESP server they
/// share (redis-server, or Garnet when it is not installed) is killed under load and started again on the same port.
/// </summary>
[Collection(ModelCollection.Name)]
public sealed class StoreOutageTests(ModelFixture model, Xunit.Abstractions.ITestOutputHelper output)
{
    private const string M = ModelFixture.ModelName;
    private const string LoadKey = "sk-test-outage-load-0123456789";
    private const string BudgetKey = "sk-test-outage-budget-01234567";
    private const string RpmKey = "sk-test-outage-rpm-0123456789a";
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(60);

    private static readonly string Keys = $$$"""
        {"keys":[
          {"key":"{{{LoadKey}}}","tenant":"outage-load","tier":"enterprise","limits":{"requests_per_minute":100000,"tokens_per_minute":100000000,"concurrent_requests":1000}},
          {"key":"{{{BudgetKey}}}","tenant":"outage-budget","tier":"enterprise","limits":{"daily_tokens":1000000}},
          {"key":"{{{RpmKey}}}","tenant":"outage-rpm","tier":"enterprise","limits":{"requests_per_minute":4}}
        ]}
        """;

    [Fact]
    public async Task StoreKilledUnderLoad_KeepsServing_BudgetedKeys503_ThenSharedLimitsAndOutageUsageApply()
    {
        await using OwnedRespServer store = await OwnedRespServer.StartAsync();
        var options = new GatewayOptions { Redis = store.Endpoint, Replicas = 2 };
        await using TestGateway a = await TestGateway.StartAsync([model.Worker], Keys, options);
        await using TestGateway b = await TestGateway.StartAsync([model.Worker], Keys, options);
        Assert.Equal("1", await GaugeAsync(a));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(a, BudgetKey));

        // Load on both replicas through the outage: sampled requests and greedy ones (response cache).
        using var stopLoad = new CancellationTokenSource();
        var statuses = new ConcurrentBag<(HttpStatusCode Status, string Body)>();
        Task[] load = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            TestGateway gateway = i % 2 == 0 ? a : b;
            for (int n = 0; !stopLoad.IsCancellationRequested && n < 2_000; n++)
            {
                string temperature = n % 2 == 0 ? "0" : "0.7";
                using HttpResponseMessage r = await gateway.PostAsync(
                    "/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"load {{{n % 5}}}","max_tokens":2,"temperature":{{{temperature}}}}""", LoadKey);
                statuses.Add((r.StatusCode, await r.Content.ReadAsStringAsync()));
            }
        })).ToArray();
        await Eventually.TrueAsync(() => statuses.Count >= 8, Recovery, "load before the outage");

        await store.KillAsync();

        await Eventually.TrueAsync(async () => await GaugeAsync(a) == "0" && await GaugeAsync(b) == "0", Recovery, "inference_limits_store_up 0 on both replicas");
        int atOutage = statuses.Count;
        await Eventually.TrueAsync(() => statuses.Count >= atOutage + 8, Recovery, "load served during the outage");

        // A key with a budget cannot be checked by one replica: 503 with the error object.
        using (HttpResponseMessage refused = await a.PostAsync("/v1/completions", Body(), BudgetKey))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            JsonElement error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("limits_store_unavailable", error.GetProperty("code").GetString());
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.Contains("daily token budget", error.GetProperty("message").GetString());
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        // Four per minute, shared by two replicas: two each while alone.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(a, RpmKey));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(a, RpmKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(a, RpmKey));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, RpmKey));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, RpmKey));

        await store.RestartAsync(); // empty: what the outage used is only in the replicas' journals

        await Eventually.TrueAsync(async () => await GaugeAsync(a) == "1" && await GaugeAsync(b) == "1", Recovery, "inference_limits_store_up 1 on both replicas");
        int atRecovery = statuses.Count;
        await Eventually.TrueAsync(() => statuses.Count >= atRecovery + 8, Recovery, "load served after the outage");
        await stopLoad.CancelAsync();
        await Task.WhenAll(load).WaitAsync(Recovery);

        output.WriteLine($"{store.Kind}: {statuses.Count} load requests, {atOutage} before the kill, {atRecovery - atOutage} from the kill to the recovery");
        (HttpStatusCode Status, string Body)[] failed = statuses.Where(s => s.Status != HttpStatusCode.OK).ToArray();
        Assert.True(failed.Length == 0, $"{failed.Length} of {statuses.Count} load requests failed, e.g. {failed.FirstOrDefault()}");
        // The four admitted in the outage (two per replica) were added to the shared window: the limit holds on both.
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(a, RpmKey));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(b, RpmKey));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b, BudgetKey));
        foreach (TestGateway g in new[] { a, b })
        {
            Assert.Single(g.Logs, e => e.EventId == 3201 && e.Level == LogLevel.Warning);
            Assert.Single(g.Logs, e => e.EventId == 3202 && e.Level == LogLevel.Information);
        }
    }

    private static string Body() => $$$"""{"model":"{{{M}}}","prompt":"outage","max_tokens":2,"temperature":0.7}""";

    private static async Task<HttpStatusCode> StatusAsync(TestGateway gateway, string key)
    {
        using HttpResponseMessage r = await gateway.PostAsync("/v1/completions", Body(), key);
        return r.StatusCode;
    }

    private static async Task<string?> GaugeAsync(TestGateway gateway)
    {
        string text = await gateway.Http.GetStringAsync("/metrics").WaitAsync(TimeSpan.FromSeconds(30));
        return text.Split('\n').FirstOrDefault(l => l.StartsWith("inference_limits_store_up ", StringComparison.Ordinal))?["inference_limits_store_up ".Length..].Trim();
    }
}

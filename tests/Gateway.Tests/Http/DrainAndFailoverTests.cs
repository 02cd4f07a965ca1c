using Inference.Gateway.Hosting;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Tests.Workers;
using Inference.Gateway.Workers;

namespace Inference.Gateway.Tests.Http;

/// <summary>Graceful drain, and a worker daemon killed under a live SSE stream.</summary>
[Collection(ModelCollection.Name)]
public sealed class DrainAndFailoverTests(ModelFixture model)
{
    private const string M = ModelFixture.ModelName;

    [Fact]
    public async Task Drain_ReadinessFalseAndNew503AtOnce_InFlightStreamFinishes()
    {
        // The drain budget covers the in-flight stream's 200 tokens on a loaded machine (it took over 10 s with the
        // CPU saturated); drain returns as soon as the stream ends, so the budget bounds, it does not pace.
        TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null, new GatewayOptions { DrainTimeout = TimeSpan.FromSeconds(50) });
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using HttpResponseMessage stream = await gateway.PostAsync(
                "/v1/completions",
                $$$"""{"model":"{{{M}}}","prompt":"The long story","max_tokens":200,"min_tokens":200,"temperature":0.7,"stream":true}""",
                completion: HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
            Assert.StartsWith("data: {", await reader.ReadLineAsync(cts.Token), StringComparison.Ordinal);

            Task<bool> drain = gateway.Host.DrainAsync(cts.Token);
            using var fresh = new HttpClient { BaseAddress = gateway.BaseAddress };
            using HttpResponseMessage ready = await fresh.GetAsync("/ready", cts.Token);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = new StringContent($$$"""{"model":"{{{M}}}","prompt":"late","max_tokens":2}""", System.Text.Encoding.UTF8, "application/json"),
            };
            using HttpResponseMessage late = await fresh.SendAsync(request, cts.Token);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, late.StatusCode);
            Assert.True(late.Headers.RetryAfter is not null);
            Assert.Contains("\"shutting_down\"", await late.Content.ReadAsStringAsync(cts.Token), StringComparison.Ordinal);
            string rest = await reader.ReadToEndAsync(cts.Token);
            Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);
            Assert.Contains("\"finish_reason\":\"length\"", rest, StringComparison.Ordinal);
            Assert.True(await drain, "the in-flight request should finish within the drain timeout");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task WorkerKilledMidStream_ClientGetsErrorEventPromptly_NextRequestServedByTheOther()
    {
        await using WorkerProcess first = await WorkerProcess.StartAsync(TestWorkers.Timeout);
        await using WorkerProcess second = await WorkerProcess.StartAsync(TestWorkers.Timeout);
        GrpcWorker a = await TestWorkers.ConnectAsync(first.Address);
        GrpcWorker b = await TestWorkers.ConnectAsync(second.Address);
        await using TestGateway gateway = await TestGateway.StartAsync([a, b], keysJson: null);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        using HttpResponseMessage stream = await gateway.PostAsync(
            "/v1/chat/completions",
            $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"Tell a long story"}],"max_tokens":200,"min_tokens":200,"stream":true}""",
            completion: HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        Assert.StartsWith("data: {", await reader.ReadLineAsync(cts.Token), StringComparison.Ordinal);
        WorkerPool pool = gateway.Host.Service.Pool;
        WorkerProcess victim = pool.InFlight(a) == 1 ? first : second;
        var clock = Stopwatch.StartNew();
        victim.Kill();

        string rest = await reader.ReadToEndAsync(cts.Token);
        clock.Stop();
        string[] events = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        JsonElement error = JsonDocument.Parse(events[^2]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the error arrived after {clock.Elapsed}");

        using HttpResponseMessage next = await gateway.PostAsync(
            "/v1/chat/completions", $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}""");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }
}

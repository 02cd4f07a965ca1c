using System.Net;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>Response cache per tenant, usage records (one per request, also for disconnects), metrics and readiness.</summary>
public abstract class CacheAndMeteringTests(IModelFixture model) : IAsyncLifetime
{
    private const string Acme = "sk-test-acme-0123456789abcdef";
    private const string Acme2 = "sk-test-acme-second-key-0123";
    private const string Globex = "sk-test-globex-0123456789abcd";
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], $$$"""
        {"keys":[
          {"key":"{{{Acme}}}","tenant":"acme","tier":"enterprise"},
          {"key":"{{{Acme2}}}","tenant":"acme","tier":"enterprise"},
          {"key":"{{{Globex}}}","tenant":"globex","tier":"enterprise"}]}
        """);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Body(string prompt, bool stream = false, string extra = "") =>
        $$$"""{"model":"{{{M}}}","prompt":"{{{prompt}}}","max_tokens":8,"temperature":0,"stream":{{{(stream ? "true" : "false")}}}{{{extra}}}}""";

    private static string? CacheHeader(HttpResponseMessage r) => r.Headers.TryGetValues("x-cache", out var v) ? v.Single() : null;

    [Fact]
    public async Task SameRequestTwice_SameTenant_HitsWithSameText_OtherTenantMisses()
    {
        string prompt = "cache test " + Guid.NewGuid().ToString("N")[..6];
        using HttpResponseMessage first = await _gateway.PostAsync("/v1/completions", Body(prompt), Acme);
        using HttpResponseMessage second = await _gateway.PostAsync("/v1/completions", Body(prompt), Acme2);
        using HttpResponseMessage other = await _gateway.PostAsync("/v1/completions", Body(prompt), Globex);

        Assert.Equal("miss", CacheHeader(first));
        Assert.Equal("hit", CacheHeader(second)); // same tenant, another key
        Assert.Equal("miss", CacheHeader(other)); // never shared across tenants
        string Text(string json) => JsonDocument.Parse(json).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        string a = await first.Content.ReadAsStringAsync();
        string b = await second.Content.ReadAsStringAsync();
        Assert.Equal(Text(a), Text(b));
        Assert.NotEqual(
            JsonDocument.Parse(a).RootElement.GetProperty("id").GetString(),
            JsonDocument.Parse(b).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task CachedAnswer_ReplaysAsStream_AndNoCacheHeaderBypasses()
    {
        string prompt = "stream cache " + Guid.NewGuid().ToString("N")[..6];
        using HttpResponseMessage whole = await _gateway.PostAsync("/v1/completions", Body(prompt), Acme);
        string text = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;

        using HttpResponseMessage streamed = await _gateway.PostAsync("/v1/completions", Body(prompt, stream: true), Acme);
        Assert.Equal("hit", CacheHeader(streamed));
        string sse = await streamed.Content.ReadAsStringAsync();
        string joined = string.Concat(sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(e => e != "data: [DONE]")
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text, joined);
        Assert.EndsWith("data: [DONE]\n\n", sse, StringComparison.Ordinal);

        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Body(prompt), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", Acme);
        request.Headers.CacheControl = new() { NoCache = true };
        using HttpResponseMessage bypass = await _gateway.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, bypass.StatusCode);
        Assert.Null(CacheHeader(bypass));
    }

    [Fact]
    public async Task SameLongPromptTwice_SecondReportsPrefixCacheHitsAsCachedTokens()
    {
        string prompt = "Prefix " + Guid.NewGuid().ToString("N")[..6] + string.Concat(Enumerable.Repeat(" the jury said that the city had run its election well", 8));
        async Task<JsonElement> UsageAsync()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Body(prompt), System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", Acme);
            request.Headers.CacheControl = new() { NoCache = true }; // the engine must run both times
            using HttpResponseMessage response = await _gateway.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").Clone();
        }

        JsonElement first = await UsageAsync();
        JsonElement second = await UsageAsync();

        int promptTokens = second.GetProperty("prompt_tokens").GetInt32();
        Assert.True(promptTokens > 64, $"prompt has {promptTokens} tokens");
        Assert.Equal(0, first.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        int cached = second.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.InRange(cached, promptTokens - 16, promptTokens - 1); // whole blocks, never the last token
    }

    [Fact]
    public async Task SampledRequestWithoutSeed_IsNotCached()
    {
        string body = $$$"""{"model":"{{{M}}}","prompt":"random {{{Guid.NewGuid():N}}}","max_tokens":4,"temperature":0.9}""";
        using HttpResponseMessage a = await _gateway.PostAsync("/v1/completions", body, Acme);
        using HttpResponseMessage b = await _gateway.PostAsync("/v1/completions", body, Acme);

        Assert.Null(CacheHeader(a));
        Assert.Null(CacheHeader(b));
    }

    [Fact]
    public async Task EveryFinishedRequest_HasExactlyOneUsageRecord_HitsMarked()
    {
        string prompt = "usage " + Guid.NewGuid().ToString("N")[..6];
        using HttpResponseMessage first = await _gateway.PostAsync("/v1/completions", Body(prompt), Acme);
        using HttpResponseMessage second = await _gateway.PostAsync("/v1/completions", Body(prompt), Acme);
        string id1 = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        string id2 = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        List<JsonElement> records = await WaitForRecordsAsync(id1, id2);
        JsonElement r1 = Assert.Single(records, r => r.GetProperty("request_id").GetString() == id1);
        JsonElement r2 = Assert.Single(records, r => r.GetProperty("request_id").GetString() == id2);
        Assert.Equal("acme", r1.GetProperty("tenant").GetString());
        Assert.Equal("completed", r1.GetProperty("status").GetString());
        Assert.False(r1.GetProperty("response_cache_hit").GetBoolean());
        Assert.True(r2.GetProperty("response_cache_hit").GetBoolean());
        Assert.Equal(r1.GetProperty("completion_tokens").GetInt32(), r2.GetProperty("completion_tokens").GetInt32());
        Assert.DoesNotContain(Acme, await File.ReadAllTextAsync(_gateway.UsageLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientDisconnectMidStream_BlocksFreedWithinOneSecond_UsageShowsGeneratedTokens()
    {
        // As long as the model's context allows (1,024): the stream must still be running when the client leaves, and a
        // 240-token answer was finished before a slow reader on a saturated machine had read its five events.
        string body = $$$"""{"model":"{{{M}}}","prompt":"The long story begins","max_tokens":1000,"min_tokens":1000,"temperature":0.8,"stream":true}""";
        string id;
        // No drain on dispose: SocketsHttpHandler would otherwise keep reading for up to 2 s to reuse the connection.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = _gateway.BaseAddress };
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", Acme);
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            id = response.Headers.GetValues("x-request-id").Single();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            int events = 0;
            while (events < 5 && await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    events++;
                }
            }

            Assert.Equal(5, events);
            Assert.True(model.Host.Stats.KvBlocksUsed > 0);
        } // dispose = disconnect

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (model.Host.Stats.KvBlocksUsed > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, model.Host.Stats.KvBlocksUsed);
        List<JsonElement> records = await WaitForRecordsAsync(id);
        JsonElement record = Assert.Single(records, r => r.GetProperty("request_id").GetString() == id);
        Assert.Equal("cancelled", record.GetProperty("status").GetString());
        Assert.InRange(record.GetProperty("completion_tokens").GetInt32(), 5, 999);
    }

    [Fact]
    public async Task Metrics_ExposeVllmLikeNames_InPrometheusFormat()
    {
        using HttpResponseMessage warm = await _gateway.PostAsync("/v1/completions", Body("metrics " + Guid.NewGuid().ToString("N")[..4]), Acme);
        string text = await _gateway.Http.GetStringAsync("/metrics").WaitAsync(TimeSpan.FromSeconds(30));

        foreach (string name in new[]
        {
            "inference_request_total", "inference_time_to_first_token_seconds_bucket", "inference_e2e_request_latency_seconds_count",
            "inference_request_queue_time_seconds_sum", "inference_prompt_tokens_total", "inference_generation_tokens_total",
            "inference_num_requests_running", "inference_num_requests_waiting", "inference_kv_cache_usage_perc",
            "inference_response_cache_misses_total", "inference_worker_healthy", "inference_key_request_latency_seconds_bucket",
            "inference_inter_token_latency_seconds_bucket", "inference_rate_limit_rejections_total",
        })
        {
            Assert.Contains(name, text, StringComparison.Ordinal);
        }

        Assert.Contains("# TYPE inference_time_to_first_token_seconds histogram", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Acme, text, StringComparison.Ordinal);
        Assert.Matches("inference_worker_healthy\\{worker=\"[^\"]+\"\\} 1", text);
    }

    [Fact]
    public async Task HealthAndReady_AreOk_ModelsListsTheModel()
    {
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Http.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Http.GetAsync("/ready")).StatusCode);
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new("Bearer", Acme);
        using HttpResponseMessage models = await _gateway.Http.SendAsync(request);
        JsonElement data = JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        Assert.Equal(M, Assert.Single(data.EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task TokenizeThenDetokenize_RoundTrips()
    {
        using HttpResponseMessage tok = await _gateway.PostAsync("/tokenize", $$$"""{"model":"{{{M}}}","prompt":"The jury said that"}""", Acme);
        JsonElement t = JsonDocument.Parse(await tok.Content.ReadAsStringAsync()).RootElement;
        int[] ids = t.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(ids.Length, t.GetProperty("count").GetInt32());
        Assert.Equal(model.Host.Tokenize("The jury said that"), ids);

        using HttpResponseMessage detok = await _gateway.PostAsync("/detokenize", $$$"""{"model":"{{{M}}}","tokens":[{{{string.Join(',', ids)}}}]}""", Acme);
        Assert.Equal("The jury said that", JsonDocument.Parse(await detok.Content.ReadAsStringAsync()).RootElement.GetProperty("prompt").GetString());
    }

    private async Task<List<JsonElement>> WaitForRecordsAsync(params string[] ids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            List<JsonElement> records = await _gateway.UsageRecordsAsync();
            if (ids.All(id => records.Any(r => r.GetProperty("request_id").GetString() == id)) || DateTime.UtcNow > deadline)
            {
                return records;
            }

            await Task.Delay(20);
        }
    }
}

[Collection(ModelCollection.Name)]
public sealed class CacheAndMeteringTestsInProcess(ModelFixture model) : CacheAndMeteringTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class CacheAndMeteringTestsOverGrpcWorker(GrpcModelFixture model) : CacheAndMeteringTests(model);

using System.Net;
using System.Text;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>return_timings: per-request queue time, TTFT, mean ITL and latency in the response, streamed or not.</summary>
[Collection(ModelCollection.Name)]
public sealed class TimingsTests(ModelFixture model) : IAsyncLifetime
{
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static void AssertConsistent(JsonElement timings, bool cacheHit, int completionTokens)
    {
        double queue = timings.GetProperty("queue_time_seconds").GetDouble();
        double ttft = timings.GetProperty("time_to_first_token_seconds").GetDouble();
        double itl = timings.GetProperty("mean_inter_token_latency_seconds").GetDouble();
        double e2e = timings.GetProperty("e2e_latency_seconds").GetDouble();
        Assert.Equal(cacheHit, timings.GetProperty("cache_hit").GetBoolean());
        Assert.InRange(queue, 0, e2e);
        Assert.InRange(ttft, cacheHit ? 0 : queue, e2e);
        Assert.True(itl >= 0);
        // The mean gap times the gaps fits between the first token and the end.
        Assert.True(ttft + (itl * (completionTokens - 1)) <= e2e + 1e-6, $"ttft {ttft} + {completionTokens - 1} x {itl} > e2e {e2e}");
        if (cacheHit)
        {
            Assert.Equal(0, queue);
        }
    }

    [Fact]
    public async Task NonStreamed_HasTimings_AndACacheHitSaysSo()
    {
        string body = $$"""{"model":"{{M}}","prompt":"The jury","max_tokens":12,"ignore_eos":true,"temperature":0,"return_timings":true}""";
        JsonElement first = await PostAsync(body);
        JsonElement again = await PostAsync(body);

        AssertConsistent(first.GetProperty("timings"), cacheHit: false, 12);
        AssertConsistent(again.GetProperty("timings"), cacheHit: true, 12);
        Assert.True(first.GetProperty("timings").GetProperty("mean_inter_token_latency_seconds").GetDouble() > 0);

        JsonElement without = await PostAsync($$"""{"model":"{{M}}","prompt":"The jury","max_tokens":2}""");
        Assert.False(without.TryGetProperty("timings", out _));
    }

    [Fact]
    public async Task OneToken_HasNoInterTokenLatency()
    {
        JsonElement r = await PostAsync($$"""{"model":"{{M}}","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"ignore_eos":true,"return_timings":true}""", "/v1/chat/completions");
        Assert.Equal(JsonValueKind.Null, r.GetProperty("timings").GetProperty("mean_inter_token_latency_seconds").ValueKind);
        Assert.True(r.GetProperty("timings").GetProperty("time_to_first_token_seconds").GetDouble() > 0);
    }

    [Fact]
    public async Task Streamed_TimingsRideTheUsageChunk_WhichTheyRequire()
    {
        using HttpResponseMessage refused = await _gateway.PostAsync("/v1/chat/completions", $$"""{"model":"{{M}}","messages":[{"role":"user","content":"hi"}],"stream":true,"return_timings":true}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("return_timings", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{M}}","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true},"return_timings":true}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
        using HttpResponseMessage response = await _gateway.Http.SendAsync(request);
        string sse = await response.Content.ReadAsStringAsync();
        List<JsonElement> chunks = [.. sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]").Select(d => JsonDocument.Parse(d).RootElement.Clone())];
        JsonElement last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        AssertConsistent(last.GetProperty("timings"), cacheHit: false, 8);
        Assert.All(chunks[..^1], c => Assert.False(c.TryGetProperty("timings", out _)));
    }

    private async Task<JsonElement> PostAsync(string json, string path = "/v1/completions")
    {
        using HttpResponseMessage response = await _gateway.PostAsync(path, json);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

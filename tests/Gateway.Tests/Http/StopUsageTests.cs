using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Usage after a stop string: the same completion_tokens on every run and on both APIs, equal to the tokens
/// (and logprobs) delivered, up to the one that completed the match. The response cache is bypassed, so every
/// run really generates.
/// </summary>
public abstract class StopUsageTests(IModelFixture model) : IAsyncLifetime
{
    private const string M = ModelFixture.ModelName;
    private const string Prompt = "The jury said that";
    private const int Runs = 6;
    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        _channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
    }

    private async Task<JsonElement> CompleteHttpAsync(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        using HttpResponseMessage response = await _gateway.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task StopString_SameCompletionTokensOnEveryRunAndOnBothApis_EqualToTheTokensDelivered()
    {
        JsonElement full = await CompleteHttpAsync($$"""{"model":"{{M}}","prompt":"{{Prompt}}","max_tokens":40,"temperature":0,"ignore_eos":true}""");
        string text = full.GetProperty("choices")[0].GetProperty("text").GetString()!;
        string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 6, $"need some words to stop on, got '{text}'");
        string stop = words[3];
        string expectedText = text[..text.IndexOf(stop, StringComparison.Ordinal)];

        var counts = new List<int>();
        for (int run = 0; run < Runs; run++)
        {
            JsonElement r = await CompleteHttpAsync($$"""{"model":"{{M}}","prompt":"{{Prompt}}","max_tokens":40,"temperature":0,"ignore_eos":true,"stop":["{{stop}}"],"logprobs":1}""");
            JsonElement choice = r.GetProperty("choices")[0];
            Assert.Equal(expectedText, choice.GetProperty("text").GetString());
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            int billed = r.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
            Assert.Equal(billed, choice.GetProperty("logprobs").GetProperty("tokens").GetArrayLength());
            counts.Add(billed);
        }

        var client = new InferenceService.InferenceServiceClient(_channel);
        for (int run = 0; run < Runs; run++)
        {
            var request = new CompleteRequest
            {
                Model = M,
                Text = Prompt,
                Sampling = new SamplingOptions { MaxTokens = 40, Temperature = 0, IgnoreEos = true, Logprobs = 0, NoCache = true },
            };
            request.Sampling.Stop.Add(stop);
            using AsyncServerStreamingCall<CompletionChunk> call = client.Complete(request, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(60)));
            var chunks = new List<CompletionChunk>();
            await foreach (CompletionChunk c in call.ResponseStream.ReadAllAsync())
            {
                chunks.Add(c);
            }

            var deltas = chunks.SelectMany(c => c.Choices).ToList();
            int billed = chunks[^1].Usage.CompletionTokens;
            Assert.Equal(expectedText, string.Concat(deltas.Select(d => d.Text)));
            Assert.Equal(billed, deltas.Sum(d => d.TokenIds.Count));
            Assert.Equal(billed, deltas.Sum(d => d.Logprobs.Count));
            counts.Add(billed);
        }

        Assert.Single(counts.Distinct());
        Assert.True(counts[0] < 40, $"the stop string must end generation early, billed {counts[0]}");
    }
}

[Collection(ModelCollection.Name)]
public sealed class StopUsageTestsInProcess(ModelFixture model) : StopUsageTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class StopUsageTestsOverGrpcWorker(GrpcModelFixture model) : StopUsageTests(model);

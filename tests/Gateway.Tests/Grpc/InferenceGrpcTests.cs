using System.Net;
using System.Text.Json;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Grpc;

/// <summary>The public gRPC API with a client generated from inference.proto: streaming, errors as statuses, cancellation.</summary>
public abstract class InferenceGrpcTests(IModelFixture model) : IAsyncLifetime
{
    private const string Key = "sk-test-grpc-0123456789abcdef";
    private const string Limited = "sk-test-grpc-limited-012345";
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;
    private InferenceService.InferenceServiceClient _client = null!;

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], $$$"""
            {"keys":[{"key":"{{{Key}}}","tenant":"grpc","tier":"enterprise"},
                     {"key":"{{{Limited}}}","tenant":"grpc-limited","tier":"enterprise","limits":{"requests_per_minute":1}}]}
            """);
        _channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!);
        _client = new InferenceService.InferenceServiceClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
    }

    private static Metadata Auth(string key = Key) => new() { { "authorization", "Bearer " + key } };

    private static CallOptions Options(string key = Key, CancellationToken cancellationToken = default) =>
        new(Auth(key), DateTime.UtcNow.AddSeconds(60), cancellationToken);

    private static async Task<List<CompletionChunk>> ReadAllAsync(AsyncServerStreamingCall<CompletionChunk> call)
    {
        var chunks = new List<CompletionChunk>();
        await foreach (CompletionChunk c in call.ResponseStream.ReadAllAsync())
        {
            chunks.Add(c);
        }

        return chunks;
    }

    [Fact]
    public async Task Complete_Greedy_StreamsSameTextAsHttp_UsageLast()
    {
        using HttpResponseMessage http = await _gateway.PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"The jury said that","max_tokens":12,"temperature":0}""", Key);
        string expected = JsonDocument.Parse(await http.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;

        using AsyncServerStreamingCall<CompletionChunk> call = _client.Complete(
            new CompleteRequest { Model = M, Text = "The jury said that", Sampling = new SamplingOptions { MaxTokens = 12, Temperature = 0, Logprobs = 1 } },
            Options());
        List<CompletionChunk> chunks = await ReadAllAsync(call);

        string text = string.Concat(chunks.SelectMany(c => c.Choices).Select(d => d.Text));
        Assert.Equal(expected, text);
        Assert.Single(chunks.Select(c => c.Id).Distinct());
        CompletionChunk last = chunks[^1];
        Assert.Empty(last.Choices);
        Assert.True(last.Usage.CompletionTokens >= 1);
        Assert.Equal(last.Usage.PromptTokens + last.Usage.CompletionTokens, last.Usage.TotalTokens);
        var deltas = chunks.SelectMany(c => c.Choices).ToList();
        Assert.Equal(last.Usage.CompletionTokens, deltas.Sum(d => d.TokenIds.Count));
        Assert.All(deltas.Where(d => d.TokenIds.Count > 0), d => Assert.Single(d.Logprobs[0].TopLogprobs));
        Assert.NotEqual(Inference.Gateway.Grpc.FinishReason.Unspecified, deltas[^1].FinishReason);
    }

    [Fact]
    public async Task Complete_Echo_FirstDeltaOfEachChoiceCarriesPrompt_TextAsHttp()
    {
        const string prompt = "The jury said that";
        using HttpResponseMessage http = await _gateway.PostAsync(
            "/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"{{{prompt}}}","echo":true,"max_tokens":8,"temperature":0}""", Key);
        string expected = JsonDocument.Parse(await http.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;

        List<CompletionChunk> chunks = await ReadAllAsync(_client.Complete(
            new CompleteRequest { Model = M, Text = prompt, Echo = true, Sampling = new SamplingOptions { MaxTokens = 8, Temperature = 0 } },
            Options()));

        var deltas = chunks.SelectMany(c => c.Choices).ToList();
        Assert.StartsWith(prompt, expected, StringComparison.Ordinal);
        Assert.StartsWith(prompt, deltas[0].Text, StringComparison.Ordinal);
        Assert.Equal(expected, string.Concat(deltas.Select(d => d.Text)));
        Assert.Single(deltas, d => d.Text.Contains(prompt, StringComparison.Ordinal));
        Assert.Equal(chunks[^1].Usage.CompletionTokens, deltas.Sum(d => d.TokenIds.Count)); // the echo adds text, not tokens
    }

    [Fact]
    public async Task Complete_EchoTokenIdsAndN2_EachChoiceStartsWithDecodedPrompt()
    {
        int[] ids = model.Host.Tokenize("The jury said that");
        string decoded = model.Host.Detokenize(ids);
        var request = new CompleteRequest { Model = M, TokenIds = new TokenIds(), Echo = true, Sampling = new SamplingOptions { MaxTokens = 6, N = 2, Seed = 7 } };
        request.TokenIds.Ids.Add(ids);

        List<CompletionChunk> chunks = await ReadAllAsync(_client.Complete(request, Options()));

        foreach (int index in new[] { 0, 1 })
        {
            var choice = chunks.SelectMany(c => c.Choices).Where(d => d.Index == index).ToList();
            Assert.StartsWith(decoded, choice[0].Text, StringComparison.Ordinal);
            Assert.True(string.Concat(choice.Select(d => d.Text)).Length > decoded.Length, "the completion follows the echoed prompt");
        }
    }

    [Fact]
    public async Task Complete_EchoWithLogprobs_IsInvalidArgumentNamingEcho()
    {
        var request = new CompleteRequest { Model = M, Text = "hi", Echo = true, Sampling = new SamplingOptions { MaxTokens = 2, Logprobs = 1 } };

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAllAsync(_client.Complete(request, Options())));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        BadRequest? bad = ex.GetRpcStatus()?.GetDetail<BadRequest>();
        Assert.Equal("echo", Assert.Single(bad!.FieldViolations).Field);
    }

    [Fact]
    public async Task Chat_StreamsDeltas_AndListModelsAndTokenizeAnswer()
    {
        var request = new ChatRequest { Model = M, Sampling = new SamplingOptions { MaxTokens = 6, Temperature = 0 } };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Hello" });
        using AsyncServerStreamingCall<CompletionChunk> call = _client.Chat(request, Options());
        List<CompletionChunk> chunks = await ReadAllAsync(call);
        Assert.StartsWith("chatcmpl-", chunks[0].Id, StringComparison.Ordinal);
        Assert.InRange(chunks[^1].Usage.CompletionTokens, 1, 6);

        ListModelsResponse models = await _client.ListModelsAsync(new ListModelsRequest(), Options());
        Assert.Equal(M, Assert.Single(models.Models).Id);

        TokenizeResponse tokens = await _client.TokenizeAsync(new TokenizeRequest { Model = M, Text = "The jury" }, Options());
        Assert.Equal(model.Host.Tokenize("The jury"), tokens.Ids.ToArray());
    }

    // The status names the proto field the client set (google.rpc.BadRequest), in the message and the field violation.
    public static TheoryData<string, StatusCode, string> BadRequests() => new()
    {
        { "temperature", StatusCode.InvalidArgument, "sampling.temperature" },
        { "top_p", StatusCode.InvalidArgument, "sampling.top_p" },
        { "max_tokens", StatusCode.InvalidArgument, "sampling.max_tokens" },
        { "n", StatusCode.InvalidArgument, "sampling.n" },
        { "logprobs", StatusCode.InvalidArgument, "sampling.logprobs" },
        { "context", StatusCode.InvalidArgument, "sampling.max_tokens" },
        { "token_ids", StatusCode.InvalidArgument, "token_ids" },
        { "empty_prompt", StatusCode.InvalidArgument, "text" },
        { "model", StatusCode.NotFound, "model" },
        { "no_model", StatusCode.InvalidArgument, "model" },
        { "stop_token_ids", StatusCode.InvalidArgument, "sampling.stop_token_ids" },
        { "presence_penalty", StatusCode.InvalidArgument, "sampling.presence_penalty" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Complete_BadParameter_IsStatusNamingIt_ThenGoodRequestServed(string what, StatusCode code, string param)
    {
        var request = new CompleteRequest { Model = M, Text = "hi", Sampling = new SamplingOptions { MaxTokens = 4 } };
        switch (what)
        {
            case "temperature": request.Sampling.Temperature = 3; break;
            case "top_p": request.Sampling.TopP = 0; break;
            case "max_tokens": request.Sampling.MaxTokens = 0; break;
            case "n": request.Sampling.N = 500; break;
            case "logprobs": request.Sampling.Logprobs = 99; break;
            case "context": request.Sampling.MaxTokens = 100_000; break;
            case "token_ids": request.TokenIds = new TokenIds { Ids = { 1, 99_999_999 } }; break;
            case "empty_prompt": request.Text = string.Empty; break;
            case "model": request.Model = "nope"; break;
            case "no_model": request.Model = string.Empty; break;
            case "stop_token_ids": request.Sampling.StopTokenIds.Add(99_999_999); break;
            case "presence_penalty": request.Sampling.PresencePenalty = -5; break;
        }

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAllAsync(_client.Complete(request, Options())));

        Assert.Equal(code, ex.StatusCode);
        Assert.Contains($"(param: {param})", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(param, Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
        List<CompletionChunk> good = await ReadAllAsync(_client.Complete(new CompleteRequest { Model = M, Text = "ok", Sampling = new SamplingOptions { MaxTokens = 2 } }, Options()));
        Assert.True(good[^1].Usage.CompletionTokens >= 1);
    }

    [Fact]
    public async Task Complete_NoKey_IsUnauthenticated_RateLimited_IsResourceExhaustedWithRetryInfo()
    {
        var request = new CompleteRequest { Model = M, Text = "hi", Sampling = new SamplingOptions { MaxTokens = 1 } };
        RpcException noKey = await Assert.ThrowsAsync<RpcException>(() => ReadAllAsync(_client.Complete(request, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)))));
        Assert.Equal(StatusCode.Unauthenticated, noKey.StatusCode);

        await ReadAllAsync(_client.Complete(request, Options(Limited)));
        RpcException limited = await Assert.ThrowsAsync<RpcException>(() => ReadAllAsync(_client.Complete(request, Options(Limited))));

        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        Google.Rpc.Status? status = limited.GetRpcStatus();
        Assert.NotNull(status);
        RetryInfo? retry = status.GetDetail<RetryInfo>();
        Assert.NotNull(retry);
        Assert.True(retry.RetryDelay.ToTimeSpan() > TimeSpan.Zero);
        Assert.Equal("rate_limit_exceeded", limited.Trailers.GetValue("error-code"));
    }

    [Fact]
    public async Task Health_GatewayReady_IsServing_UnknownServiceNotFound()
    {
        var health = new global::Grpc.Health.V1.Health.HealthClient(_channel);

        global::Grpc.Health.V1.HealthCheckResponse all = await health.CheckAsync(new global::Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        global::Grpc.Health.V1.HealthCheckResponse api = await health.CheckAsync(new global::Grpc.Health.V1.HealthCheckRequest { Service = "inference.v1.InferenceService" }, deadline: DateTime.UtcNow.AddSeconds(30));
        RpcException unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await health.CheckAsync(new global::Grpc.Health.V1.HealthCheckRequest { Service = "nope" }, deadline: DateTime.UtcNow.AddSeconds(30)));

        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, all.Status);
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, api.Status);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Complete_ClientCancels_WorkerFreesBlocksWithinOneSecond()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var request = new CompleteRequest { Model = M, Text = "A long tale", Sampling = new SamplingOptions { MaxTokens = 240, MinTokens = 240, Temperature = 0.8f } };
        using (AsyncServerStreamingCall<CompletionChunk> call = _client.Complete(request, Options(cancellationToken: cts.Token)))
        {
            int read = 0;
            while (read < 3 && await call.ResponseStream.MoveNext(cts.Token))
            {
                read++;
            }

            Assert.Equal(3, read);
            await cts.CancelAsync();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (model.Host.Stats.KvBlocksUsed > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, model.Host.Stats.KvBlocksUsed);
    }
}

[Collection(ModelCollection.Name)]
public sealed class InferenceGrpcTestsInProcess(ModelFixture model) : InferenceGrpcTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class InferenceGrpcTestsOverGrpcWorker(GrpcModelFixture model) : InferenceGrpcTests(model);

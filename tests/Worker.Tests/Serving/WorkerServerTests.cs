using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;
using Inference.Worker.Tests.Demo;
using Inference.Worker.Tokenization;
using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Tests.Serving;

/// <summary>The worker daemon's gRPC service over real loopback sockets, with the generated client.</summary>
public sealed class WorkerServerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static CallOptions Call(CancellationToken cancellationToken = default) =>
        new(deadline: DateTime.UtcNow + Timeout, cancellationToken: cancellationToken);

    private static Proto.GenerateRequest Greedy(string id, int[] prompt, int maxTokens)
    {
        var request = new Proto.GenerateRequest
        {
            RequestId = id,
            Sampling = new Proto.SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true, Logprobs = 2 },
        };
        request.PromptTokens.AddRange(prompt);
        return request;
    }

    private static async Task<List<Proto.GenerateEvent>> ReadAll(AsyncServerStreamingCall<Proto.GenerateEvent> call)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var events = new List<Proto.GenerateEvent>();
        while (await call.ResponseStream.MoveNext(timeout.Token))
        {
            events.Add(call.ResponseStream.Current);
        }

        return events;
    }

    [Fact]
    public async Task Info_Loaded_ReturnsTheHostsFacts()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();

        Proto.InfoReply reply = await h.Client.InfoAsync(new Proto.InfoRequest(), Call());

        WorkerInfo info = WorkerProtoMapping.FromProto(reply);
        Assert.Equal(h.Host.Info, info);
        Assert.Equal(BundledModel.Name, info.Model);
    }

    [Fact]
    public async Task Tokenize_TextAndChat_MatchTheHost()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        var chat = new Proto.ChatInput { AddGenerationPrompt = true };
        chat.Messages.Add(new Proto.ChatMessage { Role = "user", Content = "The jury said" });

        Proto.TokenizeReply text = await h.Client.TokenizeAsync(
            new Proto.TokenizeRequest { Text = new Proto.TextInput { Text = "The jury said", AddSpecialTokens = true } }, Call());
        Proto.TokenizeReply rendered = await h.Client.TokenizeAsync(new Proto.TokenizeRequest { Chat = chat }, Call());
        var detokenize = new Proto.DetokenizeRequest();
        detokenize.Ids.AddRange(text.Ids);
        Proto.DetokenizeReply back = await h.Client.DetokenizeAsync(detokenize, Call());

        Assert.Equal(h.Host.Tokenize("The jury said"), text.Ids);
        Assert.Equal(h.Host.ApplyChatTemplate([new ChatMessage("user", "The jury said")]), rendered.Ids);
        Assert.Equal("The jury said", back.Text);
    }

    [Fact]
    public async Task Generate_Greedy_StreamsTheHostsEvents()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        int[] prompt = h.Host.Tokenize("The jury said");
        var direct = new List<ServedEvent>();
        using (var timeout = new CancellationTokenSource(Timeout))
        {
            GenerationRequest request = WorkerProtoMapping.FromProto(Greedy("direct", prompt, 24));
            await foreach (ServedEvent e in h.Host.Generate(request, timeout.Token))
            {
                direct.Add(e);
            }
        }

        using AsyncServerStreamingCall<Proto.GenerateEvent> call = h.Client.Generate(Greedy("grpc", prompt, 24), Call());
        List<ServedEvent> served = [.. (await ReadAll(call)).Select(WorkerProtoMapping.FromProto)];

        Assert.Equal(direct.Count, served.Count);
        for (int i = 0; i < direct.Count; i++)
        {
            Assert.Equal(direct[i].Choice, served[i].Choice);
            Assert.Equal(direct[i].TokenId, served[i].TokenId);
            Assert.Equal(direct[i].Text, served[i].Text);
            Assert.Equal(direct[i].Finish, served[i].Finish);
            Assert.Equal(direct[i].Sampled?.Logprob, served[i].Sampled?.Logprob);
            Assert.Equal(direct[i].Sampled?.Bytes, served[i].Sampled?.Bytes);
            Assert.Equal(direct[i].TopLogprobs?.Select(t => t.TokenId), served[i].TopLogprobs?.Select(t => t.TokenId));
        }

        Assert.Equal(FinishReason.Length, served[^2].Finish);
        RequestUsage usage = Assert.IsType<RequestUsage>(served[^1].Usage);
        Assert.Equal(prompt.Length, usage.PromptTokens);
        Assert.Equal(24, usage.CompletionTokens);
        Assert.True(usage.Total >= usage.TimeToFirstToken && usage.TimeToFirstToken > TimeSpan.Zero);
    }

    [Fact]
    public async Task Generate_PromptBeyondContext_InvalidArgumentWithKindTrailer()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        int[] prompt = h.Host.Tokenize("The jury said");

        using AsyncServerStreamingCall<Proto.GenerateEvent> call = h.Client.Generate(Greedy("too-long", prompt, 10_000), Call());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAll(call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("maximum context length", ex.Status.Detail, StringComparison.Ordinal);
        WorkerException rebuilt = WorkerErrorMapping.FromRpcException(ex, "test");
        Assert.Equal(RefusalKind.Invalid, rebuilt.Kind);
        Assert.Equal("max_tokens", rebuilt.Param);
    }

    [Fact]
    public async Task Generate_Refusal_ArrivesUnchangedAcrossTheWorkerHop()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        int[] prompt = h.Host.Tokenize("The jury said");
        var request = new GenerationRequest { RequestId = "direct", PromptTokens = prompt, Sampling = new SamplingParams { Temperature = 0, MaxTokens = 10_000 } };
        Refusal direct = Assert.Throws<WorkerException>(() => h.Host.Generate(request)).Refusal;

        using AsyncServerStreamingCall<Proto.GenerateEvent> call = h.Client.Generate(Greedy("remote", prompt, 10_000), Call());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAll(call));
        Refusal remote = WorkerErrorMapping.FromRpcException(ex, "test").Refusal;

        // The same value, decided once by the admission rule: kind, message, param, code and retry-after.
        Assert.Equal("context_length_exceeded", direct.Code);
        Assert.Equal(direct, remote);
    }

    [Fact]
    public void ErrorMapping_OverloadedRefusal_KeepsCodeAndRetryAfter()
    {
        var refusal = Refusal.Overloaded("the waiting queue is full (4 requests)", TimeSpan.FromMilliseconds(1500));

        RpcException rpc = WorkerErrorMapping.ToRpcException(new WorkerException(refusal));
        WorkerException rebuilt = WorkerErrorMapping.FromRpcException(rpc, "test");

        Assert.Equal(StatusCode.ResourceExhausted, rpc.StatusCode);
        Assert.Equal(refusal, rebuilt.Refusal);
        Assert.True(rebuilt.Retryable);
    }

    [Fact]
    public async Task Generate_BadSamplingParameter_InvalidArgumentNamingIt()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        Proto.GenerateRequest request = Greedy("bad-top-p", h.Host.Tokenize("The"), 4);
        request.Sampling.TopP = 1.5f;

        using AsyncServerStreamingCall<Proto.GenerateEvent> call = h.Client.Generate(request, Call());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAll(call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("top_p", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generate_CancelledMidStream_FreesItsBlocksPromptly_WithoutRunningToTheEnd()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        int[] prompt = h.Host.Tokenize("The jury said");
        int maxTokens = h.Host.Info.MaxModelLength - prompt.Length - 1;
        using var cancel = new CancellationTokenSource();
        using AsyncServerStreamingCall<Proto.GenerateEvent> call = h.Client.Generate(Greedy("cancelled", prompt, maxTokens), Call(cancel.Token));
        using var firstEvents = new CancellationTokenSource(Timeout);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(firstEvents.Token));
            Assert.Equal(FinishReason.None, (FinishReason)(int)call.ResponseStream.Current.FinishReason);
        }

        using AsyncServerStreamingCall<Proto.LoadReport> stats = h.Client.Stats(new Proto.StatsRequest(), Call());
        var clock = Stopwatch.StartNew();
        await cancel.CancelAsync();
        Proto.LoadReport? freed = null;
        using var statsTimeout = new CancellationTokenSource(Timeout);
        while (await stats.ResponseStream.MoveNext(statsTimeout.Token))
        {
            if (stats.ResponseStream.Current is { KvBlocksUsed: 0, LiveRequests: 0 } report)
            {
                freed = report;
                break;
            }
        }

        clock.Stop();
        Assert.NotNull(freed);
        // Load reports come every 200 ms and this runs beside other suites on two cores, so the bound is loose; that
        // the request was aborted, not left to run out its context, is the generated-token count below.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"blocks freed after {clock.Elapsed}");
        Assert.True(freed.GeneratedTokens < maxTokens, $"the request ran to the end ({freed.GeneratedTokens} tokens) instead of being aborted");
    }

    [Fact]
    public async Task Stats_Subscribed_FirstReportAtOnceThenAtLeastEvery200Ms()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        using AsyncServerStreamingCall<Proto.LoadReport> stats = h.Client.Stats(new Proto.StatsRequest(), Call());

        var clock = Stopwatch.StartNew();
        Assert.True(await stats.ResponseStream.MoveNext(timeout.Token));
        Proto.LoadReport first = stats.ResponseStream.Current;
        var gaps = new List<TimeSpan>();
        for (int i = 0; i < 5; i++)
        {
            TimeSpan before = clock.Elapsed;
            Assert.True(await stats.ResponseStream.MoveNext(timeout.Token));
            gaps.Add(clock.Elapsed - before);
        }

        Assert.Equal(h.Host.Info.KvBlocksTotal, first.KvBlocksTotal);
        Assert.False(first.Draining);

        // The server ticks every 100 ms; a loaded machine may stretch one tick, never all of them.
        Assert.Contains(gaps, g => g < TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Health_Drained_NotServingRefusesNewAndFinishesInFlight()
    {
        await using ServingHarness h = await ServingHarness.StartAsync();
        HealthCheckResponse before = await h.Health.CheckAsync(new HealthCheckRequest(), Call());
        int[] prompt = h.Host.Tokenize("The jury said");
        using AsyncServerStreamingCall<Proto.GenerateEvent> inFlight = h.Client.Generate(Greedy("in-flight", prompt, 64), Call());
        using var timeout = new CancellationTokenSource(Timeout);
        Assert.True(await inFlight.ResponseStream.MoveNext(timeout.Token));

        Task<bool> drain = h.Server.DrainAsync(timeout.Token);
        HealthCheckResponse during = await h.Health.CheckAsync(new HealthCheckRequest(), Call());
        HealthCheckResponse service = await h.Health.CheckAsync(new HealthCheckRequest { Service = "inference.worker.v1.Worker" }, Call());
        using AsyncServerStreamingCall<Proto.GenerateEvent> refused = h.Client.Generate(Greedy("after-drain", prompt, 4), Call());
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => ReadAll(refused));
        List<Proto.GenerateEvent> rest = await ReadAll(inFlight);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, before.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, during.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, service.Status);
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("unavailable", ex.Trailers.GetValue(WorkerErrorMapping.KindTrailer));
        Assert.NotNull(rest[^1].Usage);
        Assert.Equal(64, rest[^1].Usage.CompletionTokens);
        Assert.True(await drain.WaitAsync(Timeout));
    }
}

using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.KvCache;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Engine;

public sealed partial class EngineLoopTests : IClassFixture<EngineFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private readonly EngineFixture _fixture;

    public EngineLoopTests(EngineFixture fixture) => _fixture = fixture;

    private sealed record Result(List<int>[] Tokens, string[] Text, FinishReason[] Finish, RequestUsage? Usage, int UsageEvents, string? Error);

    private static async Task<Result> Collect(GenerationStream stream, int n = 1, CancellationToken cancel = default)
    {
        var tokens = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        var text = new string[n];
        Array.Fill(text, string.Empty);
        var finish = new FinishReason[n];
        int usageEvents = 0;
        string? error = null;
        await foreach (GenerationDelta d in stream.ReadAllAsync(cancel).WithCancellation(cancel))
        {
            if (d.Usage is not null)
            {
                usageEvents++;
                continue;
            }

            if (d.Choice < 0)
            {
                error = d.Error ?? d.FinishReason.ToString();
                continue;
            }

            if (d.TokenId >= 0)
            {
                tokens[d.Choice].Add(d.TokenId);
            }

            text[d.Choice] += d.Text;
            if (d.FinishReason != FinishReason.None)
            {
                finish[d.Choice] = d.FinishReason;
            }
        }

        return new Result(tokens, text, finish, stream.Usage, usageEvents, error);
    }

    private static GenerationStream Submit(EngineLoop engine, GenerationRequest request)
    {
        Refusal? refusal = engine.Submit(request, out GenerationStream? stream);
        Assert.True(refusal is null, refusal?.Message);
        return stream!;
    }

    private static GenerationRequest Request(string id, int[] prompt, SamplingParams sampling, int n = 1, IReadOnlyList<string>? stops = null) =>
        new() { RequestId = id, PromptTokens = prompt, Sampling = sampling, N = n, StopStrings = stops ?? [] };

    private static EngineLoop Engine(ModelRuntime runtime, SchedulerOptions? scheduler = null, int maxBuffered = 4096) =>
        new(runtime, new EngineOptions { Scheduler = scheduler ?? new SchedulerOptions { MaxNumBatchedTokens = 64 }, MaxBufferedEventsPerRequest = maxBuffered }, TimeProvider.System, new Random(3));

    private static async Task WaitIdle(EngineLoop engine)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (engine.Stats is { } t && (t.LiveRequests > 0 || t.Running > 0 || t.KvBlocksUsed > 0 || t.TrackedSequences > 0 || t.SamplingRows > 0))
        {
            EngineStats s = engine.Stats;
            Assert.True(DateTime.UtcNow < deadline, $"engine did not go idle: live {s.LiveRequests}, running {s.Running}, kv used {s.KvBlocksUsed}, tracked sequences {s.TrackedSequences}, sampling rows {s.SamplingRows}, steps {s.Steps}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Generate_Greedy_MatchesFullRecomputeArgmax()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        int[] prompt = TestModels.Tokens(11, 5, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true };

        List<int> reference = TestModels.GreedyByRecompute(runtime.Model, prompt, 16);

        using EngineLoop engine = Engine(runtime);
        Result result = await Collect(Submit(engine, Request("a", prompt, sampling))).WaitAsync(Timeout);

        Assert.Equal(reference, result.Tokens[0]);
        Assert.Equal(FinishReason.Length, result.Finish[0]);
        Assert.Equal(1, result.UsageEvents);
        Assert.Equal(11, result.Usage!.PromptTokens);
        Assert.Equal(16, result.Usage.CompletionTokens);
        Assert.Equal(runtime.Tokenizer.Decode(result.Tokens[0].ToArray()), result.Text[0]);
    }

    [Theory]
    [InlineData(0f, null, 0f)]
    [InlineData(0.9f, 1234UL, 0f)]
    [InlineData(0f, null, 0.7f)]
    [InlineData(0.9f, 1234UL, 0.7f)]
    public async Task Generate_UnderMemoryPressure_PreemptedRequestsProduceTheSameTokens(float temperature, ulong? seed, float penalty)
    {
        // With penalties, a preempted sequence rejoins the sampling batch with its whole history re-uploaded.
        var sampling = new SamplingParams
        {
            Temperature = temperature,
            Seed = seed,
            MaxTokens = 40,
            IgnoreEos = true,
            FrequencyPenalty = penalty,
            PresencePenalty = penalty / 2,
            RepetitionPenalty = 1 + (penalty / 2),
        };
        int[][] prompts = Enumerable.Range(0, 5).Select(i => TestModels.Tokens(12 + i, 100 + i, 400)).ToArray();

        // Alone, with plenty of memory.
        var expected = new List<List<int>>();
        using (ModelRuntime roomy = _fixture.Runtime())
        using (EngineLoop engine = Engine(roomy))
        {
            foreach (int[] prompt in prompts)
            {
                expected.Add((await Collect(Submit(engine, Request(Guid.NewGuid().ToString(), prompt, sampling))).WaitAsync(Timeout)).Tokens[0]);
            }
        }

        // Together, in a cache too small for all of them to finish without preemption (5 x 56 tokens > 40 blocks x 4).
        using ModelRuntime tight = _fixture.Runtime(kvMemory: (PagedKvCache.BytesPerBlockFor(2, 4, 2, 16, TorchSharp.torch.ScalarType.Float32) * 40).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using EngineLoop squeezed = Engine(tight, new SchedulerOptions { MaxNumBatchedTokens = 64, Watermark = 0 });
        GenerationStream[] streams = prompts.Select((p, i) => Submit(squeezed, Request($"r{i}", p, sampling))).ToArray();
        Result[] results = await Task.WhenAll(streams.Select(s => Collect(s))).WaitAsync(Timeout);

        Assert.True(squeezed.Stats.Preemptions > 0, "the test must force preemption");
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], results[i].Tokens[0]);
        }

        await WaitIdle(squeezed);
    }

    [Fact]
    public async Task Generate_SamePromptTwice_PrefixCacheHitGivesTheSameTokens()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int[] prompt = TestModels.Tokens(42, 9, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 12, IgnoreEos = true };

        Result miss = await Collect(Submit(engine, Request("first", prompt, sampling))).WaitAsync(Timeout);
        Result hit = await Collect(Submit(engine, Request("second", prompt, sampling))).WaitAsync(Timeout);

        Assert.Equal(0, miss.Usage!.CachedPromptTokens);
        Assert.Equal(40, hit.Usage!.CachedPromptTokens); // 10 full blocks of 4; the last token is always computed
        Assert.Equal(miss.Tokens[0], hit.Tokens[0]);
    }

    [Fact]
    public async Task Generate_NEqualsTwo_ComputesThePromptOnce()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 256 });
        int[] prompt = TestModels.Tokens(30, 4, 400);

        Result greedy = await Collect(Submit(engine, Request("g", prompt, new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true }, n: 2)), n: 2).WaitAsync(Timeout);
        Assert.Equal(30, engine.Stats.PromptTokensComputed);
        Assert.Equal(greedy.Tokens[0], greedy.Tokens[1]);
        Assert.Equal(16, greedy.Usage!.CompletionTokens);

        Result sampled = await Collect(Submit(engine, Request("s", prompt, new SamplingParams { Temperature = 1.2f, Seed = 5, MaxTokens = 8, IgnoreEos = true }, n: 2)), n: 2).WaitAsync(Timeout);
        Assert.NotEqual(sampled.Tokens[0], sampled.Tokens[1]);
        await WaitIdle(engine);
    }

    [Fact]
    public async Task Generate_StopString_CutsTheTextAndEndsTheChoice()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int[] prompt = TestModels.Tokens(9, 77, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true };
        Result full = await Collect(Submit(engine, Request("full", prompt, sampling))).WaitAsync(Timeout);
        string text = full.Text[0];
        Assert.True(text.Length > 12, $"need some text to cut, got '{text}'");

        string stop = text.Substring(text.Length / 2, 3);
        int cut = text.IndexOf(stop, StringComparison.Ordinal);
        Result stopped = await Collect(Submit(engine, Request("stopped", prompt, sampling, stops: [stop]))).WaitAsync(Timeout);

        Assert.Equal(text[..cut], stopped.Text[0]);
        Assert.Equal(FinishReason.Stop, stopped.Finish[0]);
        Assert.True(stopped.Tokens[0].Count < full.Tokens[0].Count);
        await WaitIdle(engine);
    }

    [Fact]
    public async Task Generate_ReaderNeverReads_RequestIsAbortedAndOthersContinue()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime, maxBuffered: 4);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 30, IgnoreEos = true };
        GenerationStream stuck = Submit(engine, Request("stuck", TestModels.Tokens(5, 1, 400), sampling));
        var deadline = DateTime.UtcNow + Timeout;
        while (engine.Stats.GeneratedTokens < 4)
        {
            Assert.True(DateTime.UtcNow < deadline, "no tokens generated");
            await Task.Delay(5);
        }

        await WaitIdle(engine);

        Result result = await Collect(stuck).WaitAsync(Timeout);
        Assert.Equal(4, result.Tokens[0].Count);
        Assert.Contains("stopped reading", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, result.UsageEvents);

        Result other = await Collect(Submit(engine, Request("ok", TestModels.Tokens(5, 2, 400), sampling with { MaxTokens = 3 }))).WaitAsync(Timeout);
        Assert.Equal(3, other.Tokens[0].Count);
    }

    [Fact]
    public Task Cancel_ThousandRequestsAtRandomMoments_LeavesZeroUsedBlocks() => CancelAtRandomMoments(17, 1000);

    private async Task CancelAtRandomMoments(int seed, int requests)
    {
        using ModelRuntime runtime = _fixture.Runtime(kvMemory: "2MiB");
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 128, MaxNumSeqs = 32 });
        var random = new Random(seed);
        var tasks = new List<Task>();
        for (int i = 0; i < requests; i++)
        {
            int[] prompt = TestModels.Tokens(random.Next(1, 40), i, 400);
            var sampling = new SamplingParams { Temperature = 0.7f, MaxTokens = random.Next(1, 30), IgnoreEos = true };
            GenerationStream stream = Submit(engine, Request($"c{i}", prompt, sampling, n: random.Next(5) == 0 ? 2 : 1));
            int cancelAfter = random.Next(0, 10);
            tasks.Add(Task.Run(async () =>
            {
                using var cts = new CancellationTokenSource();
                int seen = 0;
                try
                {
                    await foreach (GenerationDelta d in stream.ReadAllAsync(cts.Token))
                    {
                        if (++seen >= cancelAfter)
                        {
                            await cts.CancelAsync();
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    // the client left
                }
            }));
        }

        try
        {
            await Task.WhenAll(tasks).WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            EngineStats s = engine.Stats;
            Assert.Fail($"{tasks.Count(t => !t.IsCompleted)} readers never ended; engine: live {s.LiveRequests}, running {s.Running}, waiting {s.WaitingInteractive + s.WaitingStandard + s.WaitingBatch}, kv used {s.KvBlocksUsed}/{s.KvBlocksTotal}, steps {s.Steps}, generated {s.GeneratedTokens}");
        }

        await WaitIdle(engine);
        Assert.Equal(0, engine.Stats.KvBlocksUsed);
        Assert.Equal(0, engine.Stats.Running);
    }

    [Fact]
    public async Task Generate_NEqualsTwoWithPromptChunkedToOneTokenLeft_BothChoicesFinish()
    {
        // The cause of the hang seen under load: a prompt chunked so that one token was left went down the
        // decode path, the request never forked, and its second choice (and the request) never ended.
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 9 });
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 5, IgnoreEos = true };

        Result result = await Collect(Submit(engine, Request("pair", TestModels.Tokens(10, 8, 400), sampling, n: 2)), n: 2).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(5, result.Tokens[0].Count);
        Assert.Equal(5, result.Tokens[1].Count);
        Assert.Equal(10, result.Usage!.CompletionTokens);
        await WaitIdle(engine);
    }

    [Fact]
    public async Task Abort_RightAfterSubmit_AlwaysEndsTheRequest()
    {
        // An abort by id (the worker's Abort RPC) can reach the loop before the request left intake; it must
        // not be dropped, or the request runs to max_tokens with nobody reading.
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 400, IgnoreEos = true };
        for (int i = 0; i < 300; i++)
        {
            GenerationStream stream = Submit(engine, Request($"a{i}", TestModels.Tokens(4, i, 400), sampling));
            engine.Abort(stream.RequestId);
            Result result = await Collect(stream).WaitAsync(Timeout);
            Assert.True(result.Tokens[0].Count < 400, $"request {i} ran to max_tokens after its abort");
            Assert.Equal(FinishReason.Abort.ToString(), result.Error);
        }

        await WaitIdle(engine);
    }

    [Fact]
    public void Submit_PromptPlusMaxTokensBeyondContext_IsRefusedWithBothNumbers()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        Refusal? refusal = engine.Submit(Request("long", TestModels.Tokens(500, 1, 400), new SamplingParams { MaxTokens = 100 }), out _);
        Assert.Equal(RefusalKind.Invalid, refusal?.Kind);
        Assert.Equal("max_tokens", refusal!.Param);
        Assert.Equal("context_length_exceeded", refusal.Code);
        Assert.Contains("512", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("500", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_BeyondQueueBound_IsOverloaded()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxQueuedTokens = 10 });
        Refusal? refusal = engine.Submit(Request("big", TestModels.Tokens(11, 1, 400), new SamplingParams { MaxTokens = 2 }), out _);
        Assert.Equal(RefusalKind.Overloaded, refusal?.Kind);
        Assert.NotNull(refusal!.RetryAfter);
        Assert.Contains("10", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_NeedsTheWatermarkBlocks_IsRefusedAtSubmitNotAfterAcceptance()
    {
        // 40 blocks of 4 tokens, 10 % watermark: the scheduler gives one request at most 36 blocks (144 tokens).
        long bytes = PagedKvCache.BytesPerBlockFor(2, 4, 2, 16, TorchSharp.torch.ScalarType.Float32) * 40;
        using ModelRuntime runtime = _fixture.Runtime(kvMemory: bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 256, Watermark = 0.1 });
        Assert.Equal(40, runtime.Cache.NumBlocks);
        var sampling = new SamplingParams { Temperature = 0, IgnoreEos = true };

        // 160 tokens = 40 blocks: within the cache, beyond what admission allows. Before, it was accepted and then failed.
        Refusal? refusal = engine.Submit(Request("last-blocks", TestModels.Tokens(100, 1, 400), sampling with { MaxTokens = 60 }), out GenerationStream? refused);
        Assert.Null(refused);
        Assert.Equal(RefusalKind.Invalid, refusal?.Kind);
        Assert.Equal("max_tokens", refusal!.Param);
        Assert.Contains("36", refusal.Message, StringComparison.Ordinal);

        // Exactly the admissible 144 tokens runs to the end.
        Result fits = await Collect(Submit(engine, Request("fits", TestModels.Tokens(100, 1, 400), sampling with { MaxTokens = 44 }))).WaitAsync(Timeout);
        Assert.Null(fits.Error);
        Assert.Equal(44, fits.Tokens[0].Count);
        await WaitIdle(engine);
    }
}

using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Engine;

public sealed partial class EngineLoopTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Generate_StopStringReadAfterTheEngineRanAhead_BillsTokensUpToTheMatch(int n)
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int[] prompt = TestModels.Tokens(9, 77, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 30, IgnoreEos = true };
        Result full = await Collect(Submit(engine, Request("full", prompt, sampling))).WaitAsync(Timeout);

        // The stop string is the text of the 5th token; expected = the first k tokens whose text contains it.
        string stop = runtime.Tokenizer.Decode([full.Tokens[0][4]]).Trim();
        Assert.True(stop.Length > 0, "the 5th token must produce text");
        int expected = 0;
        for (int k = 1; k <= full.Tokens[0].Count; k++)
        {
            if (runtime.Tokenizer.Decode(full.Tokens[0].Take(k).ToArray()).Contains(stop, StringComparison.Ordinal))
            {
                expected = k;
                break;
            }
        }

        // The reader reads only once the engine has generated every token (as a slow reader would): before
        // the fix the usage counted all 30, timing-dependently; now it counts exactly the delivered tokens.
        GenerationStream stream = Submit(engine, Request("stopped", prompt, sampling, n: n, stops: [stop]));
        await WaitIdle(engine);
        Result stopped = await Collect(stream, n).WaitAsync(Timeout);

        for (int c = 0; c < n; c++)
        {
            Assert.Equal(expected, stopped.Tokens[c].Count);
            Assert.Equal(FinishReason.Stop, stopped.Finish[c]);
        }

        Assert.Equal(expected * n, stopped.Usage!.CompletionTokens);
        Assert.Equal(1, stopped.UsageEvents);
    }

    [Fact]
    public async Task Usage_LongPromptOnIdleEngine_QueueTimeIsBelowTtft()
    {
        using ModelRuntime runtime = _fixture.Runtime(kvMemory: "16MiB");
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 512 });
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 2, IgnoreEos = true };

        Result result = await Collect(Submit(engine, Request("long", TestModels.Tokens(480, 3, 400), sampling))).WaitAsync(Timeout);

        // Queue time ends when the prefill is planned, TTFT after it ran: the prefill lies between them.
        RequestUsage usage = result.Usage!;
        Assert.True(usage.QueueTime < usage.TimeToFirstToken, $"queue {usage.QueueTime.TotalMilliseconds} ms, TTFT {usage.TimeToFirstToken.TotalMilliseconds} ms");
        Assert.True(usage.QueueTime.TotalMilliseconds < usage.TimeToFirstToken.TotalMilliseconds / 2, $"queue {usage.QueueTime.TotalMilliseconds} ms, TTFT {usage.TimeToFirstToken.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Usage_BehindAFullBatch_QueueTimeCoversTheWait()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 64, MaxNumSeqs = 1 });
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true };

        GenerationStream first = Submit(engine, Request("first", TestModels.Tokens(8, 1, 400), sampling));
        GenerationStream second = Submit(engine, Request("second", TestModels.Tokens(8, 2, 400), sampling with { MaxTokens = 1 }));
        long secondSubmitted = TimeProvider.System.GetTimestamp(); // at or after the engine's own arrival stamp
        Task<Result> secondResult = Collect(second);
        long firstLastToken = 0;
        await foreach (GenerationDelta d in first.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            if (d.TokenId >= 0)
            {
                firstLastToken = d.Timestamp;
            }
        }

        RequestUsage b = (await secondResult.WaitAsync(Timeout)).Usage!;

        // One sequence slot: the second request cannot be scheduled before the first one's last step.
        TimeSpan lowerBound = TimeProvider.System.GetElapsedTime(secondSubmitted, firstLastToken);
        Assert.True(b.QueueTime >= lowerBound, $"queued {b.QueueTime.TotalMilliseconds} ms, but the first request ran until {lowerBound.TotalMilliseconds} ms after the second arrived");
        Assert.True(b.QueueTime < b.TimeToFirstToken, $"queue {b.QueueTime.TotalMilliseconds} ms, TTFT {b.TimeToFirstToken.TotalMilliseconds} ms");
    }
}

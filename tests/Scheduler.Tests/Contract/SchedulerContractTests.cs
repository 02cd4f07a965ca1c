using Inference.Scheduler.Batching;
using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Tests.Contract;

/// <summary>
/// Behaviour every scheduling policy must show, driven by a scripted fake model. Each policy
/// configuration inherits this suite and supplies <see cref="Create"/>.
/// </summary>
public abstract class SchedulerContractTests
{
    private protected abstract BatchScheduler Create(SchedulerOptions options, BlockManager blocks, TimeProvider time);

    private FakeEngine Engine(SchedulerOptions options, BlockManager? blocks = null)
    {
        var time = new ManualTimeProvider();
        return new FakeEngine(Create(options, blocks ?? FakeEngine.Blocks(), time), time);
    }

    [Fact]
    public void Schedule_MixedClasses_AdmitsInteractiveThenStandardThenBatch()
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumSeqs = 1, PriorityPreemption = false });
        engine.Add(FakeEngine.Request("batch", 8, 4, PriorityClass.Batch));
        engine.Add(FakeEngine.Request("standard", 8, 4, PriorityClass.Standard));
        engine.Add(FakeEngine.Request("interactive", 8, 4, PriorityClass.Interactive));

        engine.RunUntilIdle();

        Assert.True(engine.FirstTokenStep["interactive"] < engine.FirstTokenStep["standard"]);
        Assert.True(engine.FirstTokenStep["standard"] < engine.FirstTokenStep["batch"]);
    }

    [Theory]
    [InlineData(1.0, 1.0, 10, 1.0)]
    [InlineData(2.0, 1.0, 1, 2.0)]
    public void Schedule_TwoBackloggedTenants_TokenSharesFollowWeights(double weightA, double weightB, int aRequestsPerB, double expectedRatio)
    {
        var options = new SchedulerOptions
        {
            MaxNumSeqs = 8,
            TenantWeights = new Dictionary<string, double> { ["a"] = weightA, ["b"] = weightB },
        };
        FakeEngine engine = Engine(options);
        var bSequences = new List<Sequence>();
        var aSequences = new List<Sequence>();
        // Both tenants draw lengths from the same spread, so slots free up at different steps.
        static int Length(int k) => 12 + ((k * 7) % 29);
        for (int i = 0; i < 60; i++)
        {
            bSequences.Add(engine.Add(FakeEngine.Request($"b{i}", Length(i), Length(i + 3), tenant: "b", seed: i)));
            for (int j = 0; j < aRequestsPerB; j++)
            {
                int k = (i * aRequestsPerB) + j;
                aSequences.Add(engine.Add(FakeEngine.Request($"a{i}-{j}", Length(k), Length(k + 3), tenant: "a", seed: 1000 + k)));
            }
        }

        // Measure only while both tenants still have queued work.
        while (bSequences.Exists(s => s.Status == SequenceStatus.Waiting) && aSequences.Exists(s => s.Status == SequenceStatus.Waiting))
        {
            engine.Step();
        }

        double a = Cost(engine, "a");
        double b = Cost(engine, "b");
        double ratio = a / b;
        Assert.True(engine.Steps > 50, "the window must be long enough to measure");
        Assert.True(Math.Abs(ratio - expectedRatio) <= 0.1 * expectedRatio, $"share ratio a/b = {ratio:F3}, expected {expectedRatio} +- 10 %");
    }

    private static double Cost(FakeEngine engine, string tenant) =>
        (0.5 * engine.PromptTokensByTenant.GetValueOrDefault(tenant)) + engine.OutputTokensByTenant.GetValueOrDefault(tenant);

    [Theory]
    [InlineData(1, true)]
    [InlineData(0, false)]
    public void Schedule_StreamOfInteractiveWork_AgingLetsBatchRequestRun(int agingSeconds, bool expectServed)
    {
        FakeEngine engine = Engine(new SchedulerOptions
        {
            MaxNumSeqs = 1,
            PriorityPreemption = false,
            AgingInterval = TimeSpan.FromSeconds(agingSeconds),
        });
        engine.Add(FakeEngine.Request("old-batch", 8, 2, PriorityClass.Batch));

        // A new interactive request arrives every step, forever outranking the batch request without aging.
        for (int i = 0; i < 400; i++)
        {
            engine.Add(FakeEngine.Request($"i{i}", 8, 2, PriorityClass.Interactive, seed: i));
            engine.Step();
        }

        Assert.Equal(expectServed, engine.FinishStep.ContainsKey("old-batch"));
    }

    [Fact]
    public void Schedule_LongPromptArrives_RunningDecodesGetATokenEveryStep()
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumBatchedTokens = 256, MaxNumSeqs = 16 });
        var decoders = new List<Sequence>();
        for (int i = 0; i < 6; i++)
        {
            decoders.Add(engine.Add(FakeEngine.Request($"d{i}", 16, 400, seed: i)));
        }

        engine.Step(); // their prompts
        engine.Add(FakeEngine.Request("long", 3000, 4, seed: 99));

        int prefillSteps = 0;
        while (!engine.FirstTokenStep.ContainsKey("long"))
        {
            var before = decoders.Select(d => d.OutputLength).ToArray();
            StepPlan plan = engine.Step();
            Assert.True(plan.NumBatchedTokens <= 256);
            for (int i = 0; i < decoders.Count; i++)
            {
                Assert.Equal(before[i] + 1, decoders[i].OutputLength);
            }

            prefillSteps++;
        }

        // 3000 tokens through a 256-token budget shared with 6 decodes: ceil(3000 / 250) chunks.
        Assert.Equal((int)Math.Ceiling(3000 / 250.0), prefillSteps);
    }

    [Fact]
    public void Schedule_BatchFullOfBatchClass_InteractiveStartsWithinOneStep()
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumSeqs = 8 }, FakeEngine.Blocks(numBlocks: 64, blockSize: 16));
        for (int i = 0; i < 12; i++)
        {
            engine.Add(FakeEngine.Request($"b{i}", 64, 200, PriorityClass.Batch, seed: i));
        }

        for (int i = 0; i < 5; i++)
        {
            engine.Step();
        }

        Assert.Equal(8, engine.Scheduler.NumRunning);
        engine.Add(FakeEngine.Request("chat", 32, 8, PriorityClass.Interactive, seed: 500));
        int stepBefore = engine.Steps;
        engine.Step();

        Assert.Equal(stepBefore, engine.FirstTokenStep["chat"]);
        engine.RunUntilIdle();
        Assert.Equal(13, engine.FinishStep.Count);
        Assert.Equal(0, engine.Scheduler.Blocks.UsedBlocks);
    }

    [Fact]
    public void Schedule_MemoryPressure_PreemptsAndStillFinishesEverything()
    {
        // 24 blocks of 4 tokens cannot hold 6 sequences growing to 40 tokens: decodes must preempt.
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumSeqs = 6, Watermark = 0 }, FakeEngine.Blocks(numBlocks: 24, blockSize: 4));
        var sequences = Enumerable.Range(0, 6).Select(i => engine.Add(FakeEngine.Request($"r{i}", 8, 32, seed: i))).ToList();

        engine.RunUntilIdle();

        Assert.True(engine.Scheduler.TotalPreemptions > 0);
        Assert.All(sequences, s => Assert.Equal(FinishReason.Length, s.FinishReason));
        Assert.All(sequences, s => Assert.Equal(32, s.OutputLength));

        // Recompute gives the same continuation as an unpreempted run (the fake model is a pure function).
        foreach (Sequence s in sequences)
        {
            var replay = s.Request.PromptTokens.ToList();
            for (int i = 0; i < 32; i++)
            {
                int next = FakeEngine.NextToken(replay);
                Assert.Equal(next, s.Tokens[s.PromptLength + i]);
                replay.Add(next);
            }
        }

        Assert.Equal(0, engine.Scheduler.Blocks.UsedBlocks);
    }

    [Fact]
    public void Schedule_LongPromptsCompetingForMemory_NeverDeadlock()
    {
        // Two prompts that each need most of the cache, chunked: partial prefills must preempt, not wait forever.
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumBatchedTokens = 32, Watermark = 0 }, FakeEngine.Blocks(numBlocks: 20, blockSize: 4));
        engine.Add(FakeEngine.Request("x", 60, 4, seed: 1));
        engine.Add(FakeEngine.Request("y", 60, 4, seed: 2));

        engine.RunUntilIdle(maxSteps: 500);

        Assert.Equal(2, engine.FinishStep.Count);
        Assert.Equal(0, engine.Scheduler.Blocks.UsedBlocks);
    }

    [Fact]
    public void Abort_ThousandRequestsAtRandomMoments_LeavesNoUsedBlocks()
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumSeqs = 32, MaxNumBatchedTokens = 512 }, FakeEngine.Blocks(numBlocks: 256, blockSize: 8));
        var random = new Random(42);
        var live = new List<string>();
        for (int i = 0; i < 1000; i++)
        {
            engine.Add(FakeEngine.Request($"r{i}", random.Next(1, 120), random.Next(1, 60), (PriorityClass)random.Next(3), tenant: $"t{random.Next(4)}", seed: i, n: random.Next(4) == 0 ? 2 : 1));
            live.Add($"r{i}");
            if (random.Next(3) == 0)
            {
                engine.Step();
            }

            if (random.Next(2) == 0 && live.Count > 0)
            {
                int k = random.Next(live.Count);
                engine.Scheduler.Abort(live[k]);
                live.RemoveAt(k);
            }
        }

        foreach (string id in live)
        {
            engine.Scheduler.Abort(id);
        }

        Assert.False(engine.Scheduler.HasWork);
        Assert.Equal(0, engine.Scheduler.Blocks.UsedBlocks);
        Assert.Equal(256, engine.Scheduler.Blocks.FreeBlocks);
    }

    [Fact]
    public void TryAdd_BeyondBounds_RefusesAtOnceWithReason()
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxQueuedRequests = 2, MaxQueuedTokens = 100 }, FakeEngine.Blocks(numBlocks: 8, blockSize: 4));
        Assert.Equal(AdmissionResult.TooLargeForCache, engine.Scheduler.TryAdd(FakeEngine.Request("huge", 30, 10), out _));
        engine.Add(FakeEngine.Request("a", 10, 2));
        Assert.Equal(AdmissionResult.DuplicateId, engine.Scheduler.TryAdd(FakeEngine.Request("a", 10, 2), out _));
        Assert.Equal(AdmissionResult.QueueTokensFull, engine.Scheduler.TryAdd(FakeEngine.Request("b", 95, 1), out _));
        engine.Add(FakeEngine.Request("c", 10, 2));
        Assert.Equal(AdmissionResult.QueueFull, engine.Scheduler.TryAdd(FakeEngine.Request("d", 10, 2), out _));
    }

    [Fact]
    public void Schedule_NEqualsTwo_ComputesThePromptOnceAndSharesItsBlocks()
    {
        FakeEngine engine = Engine(new SchedulerOptions(), FakeEngine.Blocks(numBlocks: 64, blockSize: 16));
        engine.Add(FakeEngine.Request("pair", 70, 5, n: 2));

        StepPlan first = engine.Step();
        Assert.Single(first.Chunks);
        Assert.Equal(70, first.NumPrefillTokens);
        Assert.Equal(2, first.Chunks[0].SampleInto.Count);
        Assert.Equal(5, engine.Scheduler.Blocks.UsedBlocks); // 70 tokens in 5 blocks, shared by both

        engine.Step();
        Assert.Equal(1, engine.BlockCopies[^1]); // the shared partial block is copied once, on first write

        engine.RunUntilIdle();
        IReadOnlyList<Sequence>? gone = engine.Scheduler.SequencesOf("pair");
        Assert.Null(gone);
        Assert.Equal(0, engine.Scheduler.Blocks.UsedBlocks);
        Assert.Equal(10, engine.OutputTokensByTenant["t"]);
    }

    [Fact]
    public void Schedule_NEqualsTwoPromptChunkedToOneTokenLeft_StillForks()
    {
        // A 9-token budget computes 9 of 10 prompt tokens; the 10th is a prefill chunk of one token, not a
        // decode, so completing it forks. Before, it was planned as a decode: no fork, one choice never ran.
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumBatchedTokens = 9 }, FakeEngine.Blocks(numBlocks: 64, blockSize: 4));
        engine.Add(FakeEngine.Request("pair", 10, 3, n: 2));

        StepPlan first = engine.Step();
        Assert.Equal(9, first.NumPrefillTokens);
        Assert.False(first.Chunks[0].NeedsSample);

        StepPlan second = engine.Step();
        Assert.Equal(1, second.NumPrefillTokens);
        Assert.Equal(0, second.NumDecodeTokens);
        Assert.False(second.Chunks[0].IsDecode);
        Assert.Equal(2, second.Chunks[0].SampleInto.Count);

        engine.RunUntilIdle();
        Assert.Null(engine.Scheduler.SequencesOf("pair"));
        Assert.Equal(6, engine.OutputTokensByTenant["t"]);
    }

    [Theory]
    [InlineData(0, 2, 2048)]   // no limit: the first prompt takes 2048 of the 3072, the second the rest
    [InlineData(256, 3, 256)]  // 256 per prompt: three prompts start in the first step
    public void Schedule_LongPrefillTokenThreshold_CapsEachPromptsChunk(int threshold, int expectedStarted, int expectedFirstChunk)
    {
        FakeEngine engine = Engine(new SchedulerOptions { MaxNumBatchedTokens = 768 * 4, LongPrefillTokenThreshold = threshold });
        for (int i = 0; i < 3; i++)
        {
            engine.Add(FakeEngine.Request($"long{i}", 2048, 2));
        }

        StepPlan first = engine.Step();

        Assert.Equal(expectedStarted, first.Chunks.Count);
        Assert.Equal(expectedFirstChunk, first.Chunks[0].NumNewTokens);
        Assert.All(first.Chunks, c => Assert.True(threshold == 0 || c.NumNewTokens <= threshold));
        engine.RunUntilIdle();
        Assert.Equal(3, engine.FinishStep.Count); // every prompt still completes, chunk by chunk
    }

    [Fact]
    public void Schedule_RepeatedPromptSameTenant_ServesFullBlocksFromPrefixCache()
    {
        FakeEngine engine = Engine(new SchedulerOptions(), FakeEngine.Blocks(numBlocks: 64, blockSize: 16));
        engine.Add(FakeEngine.Request("first", 100, 2));
        engine.RunUntilIdle();

        Sequence again = engine.Add(FakeEngine.Request("again", 100, 2));
        Sequence other = engine.Add(FakeEngine.Request("other-tenant", 100, 2, tenant: "u"));
        StepPlan plan = engine.Step();

        Assert.Equal(96, again.NumCachedTokens); // 6 full blocks of 16
        Assert.Equal(0, other.NumCachedTokens);   // salts differ per tenant
        Assert.Equal(4 + 100, plan.NumPrefillTokens);
    }
}

/// <summary>The VTC-fair scheduler with prefix caching (the default configuration).</summary>
public sealed class VtcSchedulerContractTests : SchedulerContractTests
{
    private protected override BatchScheduler Create(SchedulerOptions options, BlockManager blocks, TimeProvider time) =>
        new(options, blocks, time, tenant => PrefixSalt.For("contract-test-server-secret"u8, tenant));
}

using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Inference.Scheduler;
using Inference.Scheduler.Batching;
using Inference.Scheduler.KvCache;

namespace Inference.Bench;

/// <summary>
/// One engine step of the batch scheduler at serving size: 256 running sequences, all decoding, and
/// <see cref="Waiting"/> requests queued behind them (max_num_seqs = 256, so they stay queued). Each
/// operation is what the engine loop does around the model: <see cref="BatchScheduler.Schedule"/>, one
/// sampled token appended to every sampling row, <see cref="BatchScheduler.Complete"/>.
/// Goal: under 50 us and no allocation per step.
/// Run: dotnet run -c Release --project bench/Inference.Bench -- schedule
/// </summary>
/// <remarks>
/// <para>
/// Steady state without drift: nothing finishes (max_tokens is huge), nothing is preempted (the cache
/// has room for every sequence to double its length) and the clock is frozen (no aging promotes the
/// waiting requests over the running ones). The one thing that grows is each sequence's context, by a
/// token per step; it only changes how often a block fills (every 16 steps, as at any length).
/// </para>
/// <para>
/// A sequence's token list and block table are lists that double when full. The prompts are
/// <see cref="PromptLength"/> tokens so both have just doubled when measurement starts and have room
/// for <see cref="PromptLength"/> more tokens, more than the job's fixed number of steps: list growth
/// (an amortized cost of appending tokens, not of planning) stays out of the per-step numbers. The
/// cleanup checks that no sequence outgrew that room and that nothing finished or was preempted.
/// </para>
/// </remarks>
[Config(typeof(StepConfig))]
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
public class ScheduleBenchmark
{
    private const int Running = 256;
    private const int PromptLength = 32_768;
    private const int BlockSize = 16;
    private const int Tenants = 8;
    private const int StepsPerIteration = 1024;

    private BatchScheduler? _scheduler;
    private long _steps;

    /// <summary>Requests queued behind the running batch.</summary>
    [Params(0, 1000)]
    public int Waiting { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new SchedulerOptions
        {
            MaxNumSeqs = Running,
            MaxNumBatchedTokens = 2048,
            MaxQueuedTokens = 100_000_000,
        };

        // Room for every running sequence to double its length, plus the watermark.
        int blocksPerSequence = (2 * PromptLength / BlockSize) + 16;
        int numBlocks = (int)(Running * blocksPerSequence / (1 - options.Watermark)) + 64;
        var blocks = new BlockManager(numBlocks, BlockSize);
        byte[] secret = "schedule-benchmark-secret"u8.ToArray();
        var scheduler = new BatchScheduler(options, blocks, new FrozenTimeProvider(), tenant => PrefixSalt.For(secret, tenant));
        var random = new Random(7);

        // Running work: a quarter interactive, the rest standard, over 8 tenants; unique prompts.
        for (int i = 0; i < Running; i++)
        {
            Add(scheduler, $"run-{i}", RandomTokens(random, PromptLength), i % 4 == 0 ? PriorityClass.Interactive : PriorityClass.Standard, $"tenant-{i % Tenants}");
        }

        // Prefill them all without sampling (a sequence whose prompt is computed and has no new token is
        // neither a decode nor a prefill, so it just waits), then give each its first token: from the
        // next step on, every running sequence is a decode.
        while (scheduler.NumWaiting > 0 || AnyPrefillPending(scheduler))
        {
            scheduler.Complete(scheduler.Schedule());
        }

        foreach (Sequence seq in scheduler.Running)
        {
            seq.AppendToken(1);
        }

        // Waiting work, never higher than the running classes (so it never preempts them): standard and
        // batch, 64 to 1,024 tokens, over the same tenants.
        for (int i = 0; i < Waiting; i++)
        {
            Add(scheduler, $"wait-{i}", RandomTokens(random, random.Next(64, 1025)), i % 3 == 0 ? PriorityClass.Batch : PriorityClass.Standard, $"tenant-{i % Tenants}");
        }

        _scheduler = scheduler;
        _steps = 0;
        for (int i = 0; i < 64; i++)
        {
            Step();
        }

        StepPlan plan = scheduler.Schedule();
        if (plan.Chunks.Count != Running || plan.NumDecodeTokens != Running || plan.NumPrefillTokens != 0 || scheduler.NumWaiting != Waiting)
        {
            throw new InvalidOperationException($"not in the intended steady state: {plan.Chunks.Count} chunks, {plan.NumDecodeTokens} decodes, {plan.NumPrefillTokens} prefill tokens, {scheduler.NumWaiting} waiting");
        }

        Sample(plan);
        scheduler.Complete(plan);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        BatchScheduler scheduler = _scheduler!;
        int longest = scheduler.Running.Max(s => s.Tokens.Count);
        bool ok = scheduler.NumRunning == Running && scheduler.NumWaiting == Waiting && scheduler.TotalPreemptions == 0 && longest <= 2 * PromptLength;
        Console.WriteLine($"// schedule steady state after {_steps} steps: running {scheduler.NumRunning}, waiting {scheduler.NumWaiting}, preemptions {scheduler.TotalPreemptions}, longest sequence {longest} tokens (room to {2 * PromptLength}): {(ok ? "OK" : "DRIFTED, numbers invalid")}");
        _scheduler = null;
    }

    /// <summary>Schedule, append one token per sampling row (indexed loops), Complete.</summary>
    [Benchmark(Baseline = true)]
    public int Step()
    {
        StepPlan plan = _scheduler!.Schedule();
        int rows = Sample(plan);
        _scheduler.Complete(plan);
        _steps++;
        return rows;
    }

    /// <summary>
    /// The same step, but walking each chunk's SampleInto with foreach, as the engine loop does
    /// (EngineLoop.Run.cs, EngineLoop.Stepper.cs): SampleInto is an IReadOnlyList over an array, so
    /// foreach goes through IEnumerable and may allocate an enumerator per chunk.
    /// </summary>
    [Benchmark]
    public int StepForeachSampleInto()
    {
        StepPlan plan = _scheduler!.Schedule();
        int token = (int)(_steps % 32_000);
        int rows = 0;
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            if (!chunk.NeedsSample)
            {
                continue;
            }

            foreach (Sequence target in chunk.SampleInto)
            {
                target.AppendToken(token);
                rows++;
            }
        }

        _scheduler.Complete(plan);
        _steps++;
        return rows;
    }

    private int Sample(StepPlan plan)
    {
        int token = (int)(_steps % 32_000);
        int rows = 0;
        List<ScheduledChunk> chunks = plan.Chunks;
        for (int i = 0; i < chunks.Count; i++)
        {
            ScheduledChunk chunk = chunks[i];
            if (!chunk.NeedsSample)
            {
                continue;
            }

            IReadOnlyList<Sequence> targets = chunk.SampleInto;
            for (int j = 0; j < targets.Count; j++)
            {
                targets[j].AppendToken(token);
                rows++;
            }
        }

        return rows;
    }

    private static bool AnyPrefillPending(BatchScheduler scheduler)
    {
        foreach (Sequence seq in scheduler.Running)
        {
            if (seq.NumComputed < seq.Tokens.Count)
            {
                return true;
            }
        }

        return false;
    }

    private static void Add(BatchScheduler scheduler, string id, int[] prompt, PriorityClass priorityClass, string tenant)
    {
        var request = new SchedulerRequest
        {
            RequestId = id,
            PromptTokens = prompt,
            MaxTokens = 1_000_000,
            Class = priorityClass,
            Tenant = tenant,
        };
        AdmissionResult result = scheduler.TryAdd(request, out _);
        if (result != AdmissionResult.Accepted)
        {
            throw new InvalidOperationException($"request {id} refused: {result}");
        }
    }

    private static int[] RandomTokens(Random random, int length)
    {
        int[] tokens = new int[length];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = random.Next(32_000);
        }

        return tokens;
    }

    /// <summary>A clock that never moves: no aging during the run, so the waiting queue keeps its classes.</summary>
    private sealed class FrozenTimeProvider : TimeProvider
    {
        public override long GetTimestamp() => 1_000_000;
    }

    /// <summary>
    /// In process (the scheduler is pure C#) with a fixed number of steps per iteration, so the total
    /// number of steps, and with it the growth of every sequence, is bounded (see the remarks above).
    /// </summary>
    private sealed class StepConfig : ManualConfig
    {
        public StepConfig()
        {
            AddJob(Job.ShortRun
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithInvocationCount(StepsPerIteration)
                .WithUnrollFactor(1)
                .WithWarmupCount(10)
                .WithIterationCount(15));
        }
    }
}

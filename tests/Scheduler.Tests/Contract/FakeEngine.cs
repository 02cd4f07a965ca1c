using Inference.Scheduler.Batching;
using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Tests.Contract;

/// <summary>
/// A scripted model driving a scheduler the way the engine loop does: schedule, "forward", sample one
/// token per sampling row (a deterministic function of the sequence's tokens), finish, complete.
/// Records what each step contained so tests can check ordering, fairness and stalls.
/// </summary>
internal sealed class FakeEngine
{
    public FakeEngine(BatchScheduler scheduler, ManualTimeProvider time)
    {
        Scheduler = scheduler;
        Time = time;
    }

    public BatchScheduler Scheduler { get; }

    public ManualTimeProvider Time { get; }

    public TimeSpan StepTime { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Output tokens served per tenant.</summary>
    public Dictionary<string, int> OutputTokensByTenant { get; } = new(StringComparer.Ordinal);

    /// <summary>Prompt tokens computed per tenant (prefill work).</summary>
    public Dictionary<string, int> PromptTokensByTenant { get; } = new(StringComparer.Ordinal);

    /// <summary>Step index at which each request got its first token.</summary>
    public Dictionary<string, int> FirstTokenStep { get; } = new(StringComparer.Ordinal);

    /// <summary>Step index at which each request finished.</summary>
    public Dictionary<string, int> FinishStep { get; } = new(StringComparer.Ordinal);

    public List<int> BlockCopies { get; } = [];

    public int Steps { get; private set; }

    /// <summary>The last plan run, for inspecting what a step contained.</summary>
    public StepPlan? LastPlan { get; private set; }

    public static int NextToken(IReadOnlyList<int> tokens)
    {
        long h = 17;
        for (int i = 0; i < tokens.Count; i++)
        {
            h = (h * 31) + tokens[i];
        }

        return (int)((h & 0x7FFFFFFF) % 1000);
    }

    public StepPlan Step()
    {
        StepPlan plan = Scheduler.Schedule();
        LastPlan = plan;
        BlockCopies.Add(plan.BlockCopies.Count);
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            string tenant = chunk.Sequence.Request.Tenant;
            if (!chunk.IsDecode)
            {
                PromptTokensByTenant[tenant] = PromptTokensByTenant.GetValueOrDefault(tenant) + chunk.NumNewTokens;
            }

            if (!chunk.NeedsSample)
            {
                continue;
            }

            foreach (Sequence target in chunk.SampleInto)
            {
                target.AppendToken(NextToken(target.Tokens));
                if (target.OutputLength >= target.Request.MaxTokens)
                {
                    Scheduler.Finish(target, FinishReason.Length); // the engine's stop check, as the worker's core does
                }

                OutputTokensByTenant[tenant] = OutputTokensByTenant.GetValueOrDefault(tenant) + 1;
                FirstTokenStep.TryAdd(target.Request.RequestId, Steps);
            }
        }

        Scheduler.Complete(plan);
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            foreach (Sequence target in chunk.SampleInto)
            {
                if (target.IsFinished)
                {
                    FinishStep.TryAdd(target.Request.RequestId, Steps);
                }
            }
        }

        Steps++;
        Time.Advance(StepTime);
        return plan;
    }

    public void RunUntilIdle(int maxSteps = 100_000)
    {
        while (Scheduler.HasWork)
        {
            Assert.True(Steps < maxSteps, "scheduler did not drain");
            Step();
        }
    }

    public static SchedulerRequest Request(string id, int promptLength, int maxTokens, PriorityClass cls = PriorityClass.Standard, string tenant = "t", int seed = 0, int n = 1) =>
        new()
        {
            RequestId = id,
            PromptTokens = Enumerable.Range(0, promptLength).Select(i => ((i * 7) + seed) % 1000).ToArray(),
            MaxTokens = maxTokens,
            Class = cls,
            Tenant = tenant,
            N = n,
        };

    public Sequence Add(SchedulerRequest request)
    {
        Assert.Equal(AdmissionResult.Accepted, Scheduler.TryAdd(request, out Sequence? seq));
        return seq!;
    }

    public static BlockManager Blocks(int numBlocks = 4096, int blockSize = 16, bool prefixCaching = true) =>
        new(numBlocks, blockSize, prefixCaching);
}

using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Batching;

/// <summary>
/// What to run in one engine step: decode chunks first, then prefill chunks, plus any KV block copies
/// (copy-on-write) to run before the forward. Reused across steps: read it before the next Schedule.
/// </summary>
public sealed class StepPlan
{
    public List<ScheduledChunk> Chunks { get; } = [];

    /// <summary>Block copies to execute on the device before the forward.</summary>
    public List<BlockCopy> BlockCopies { get; } = [];

    /// <summary>Sequences preempted this step (their blocks are free; they will be recomputed).</summary>
    public List<Sequence> Preempted { get; } = [];

    public int NumDecodeTokens { get; internal set; }

    public int NumPrefillTokens { get; internal set; }

    public int NumBatchedTokens => NumDecodeTokens + NumPrefillTokens;

    public bool IsEmpty => Chunks.Count == 0;

    internal void Clear()
    {
        Chunks.Clear();
        BlockCopies.Clear();
        Preempted.Clear();
        NumDecodeTokens = 0;
        NumPrefillTokens = 0;
    }
}

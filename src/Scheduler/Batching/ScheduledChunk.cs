namespace Inference.Scheduler.Batching;

/// <summary>
/// One sequence's share of a step: <see cref="NumNewTokens"/> tokens starting at its
/// <see cref="Sequence.NumComputed"/> (before the step). When <see cref="NeedsSample"/> the step's
/// logits for its last token are sampled once per sequence in <see cref="SampleInto"/>
/// (the sequence itself, plus forks for n &gt; 1 when its prompt completes).
/// </summary>
public readonly record struct ScheduledChunk(Sequence Sequence, int ContextLength, int NumNewTokens, bool NeedsSample, bool IsDecode)
{
    /// <summary>Sequences that take a sampled token from this chunk's logits row (usually just the sequence).</summary>
    public IReadOnlyList<Sequence> SampleInto => Sequence.PendingForksOrSelf;
}

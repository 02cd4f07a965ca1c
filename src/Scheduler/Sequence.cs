using Inference.Scheduler.KvCache;

namespace Inference.Scheduler;

/// <summary>
/// One generation stream inside the scheduler: prompt then output tokens, how many are in the KV cache,
/// and its block table. A request with n &gt; 1 has n sequences that share the prompt's blocks.
/// Owned by the engine loop thread.
/// </summary>
public sealed class Sequence
{
    private readonly List<int> _tokens;

    internal Sequence(long id, SchedulerRequest request, long arrivalTimestamp, int index)
    {
        Id = id;
        Request = request;
        ArrivalTimestamp = arrivalTimestamp;
        Index = index;
        // Room for the prompt and the output up front (capped), so appending never copies the prompt.
        _tokens = new List<int>(request.PromptTokens.Count + Math.Min(request.MaxTokens, 4096));
        _tokens.AddRange(request.PromptTokens);
    }

    public long Id { get; }

    public SchedulerRequest Request { get; }

    /// <summary>Which of the request's n completions this is (0-based).</summary>
    public int Index { get; }

    /// <summary>TimeProvider timestamp at submission (queue time and aging).</summary>
    public long ArrivalTimestamp { get; }

    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;

    public FinishReason FinishReason { get; internal set; }

    /// <summary>Prompt followed by generated tokens.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public int PromptLength => Request.PromptTokens.Count;

    public int OutputLength => _tokens.Count - PromptLength;

    /// <summary>Tokens whose K/V are in the cache.</summary>
    public int NumComputed { get; internal set; }

    /// <summary>Prompt tokens served from the prefix cache at the last admission.</summary>
    public int NumCachedTokens { get; internal set; }

    /// <summary>Tokens not yet in the cache: the prompt (or everything, after preemption), or 1 when decoding.</summary>
    public int Pending => _tokens.Count - NumComputed;

    /// <summary>
    /// True when the only pending token is a sampled one: the prompt is in the cache. A prompt chunked so
    /// that one prompt token is left is still a prefill, so completing it forks n &gt; 1 requests (a decode
    /// would not, and the request's other choices would never start).
    /// </summary>
    public bool IsDecode => Pending == 1 && NumComputed >= PromptLength;

    public BlockTable BlockTable { get; } = new();

    /// <summary>Times this sequence was preempted (any cause).</summary>
    public int Preemptions { get; internal set; }

    /// <summary>Times it was preempted to make room for a higher class (bounded by the options).</summary>
    public int PriorityPreemptions { get; internal set; }

    /// <summary>Admission order among running sequences (newer = larger), for picking preemption victims.</summary>
    internal long AdmissionOrder { get; set; }

    /// <summary>Class after aging; starts at the request's class.</summary>
    internal PriorityClass EffectiveClass { get; set; }

    internal ulong PrefixSalt { get; set; }

    /// <summary>
    /// Set for the step in which this sequence's prompt completes and n &gt; 1: itself followed by its new
    /// forks, each of which takes one sample from this sequence's logits row.
    /// </summary>
    internal List<Sequence>? PendingForks { get; set; }

    /// <summary>The sequences that sample from this sequence's logits row this step.</summary>
    internal IReadOnlyList<Sequence> PendingForksOrSelf => PendingForks is { } forks ? forks : (_self ??= [this]);

    private Sequence[]? _self;

    /// <summary>
    /// The engine's index of its own typed state for this sequence (-1: none yet; forks start without one); the
    /// scheduler never reads it.
    /// </summary>
    public int EngineSlot { get; set; } = -1;

    public bool IsFinished => Status == SequenceStatus.Finished;

    /// <summary>Appends a sampled token (engine calls this once per scheduled sampling row).</summary>
    public void AppendToken(int token) => _tokens.Add(token);

    internal Span<int> TokenSpan => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens);

    internal static Sequence ForkOf(Sequence parent, long id, int index)
    {
        var child = new Sequence(id, parent.Request, parent.ArrivalTimestamp, index)
        {
            Status = SequenceStatus.Running,
            NumComputed = parent.NumComputed,
            EffectiveClass = parent.EffectiveClass,
            PrefixSalt = parent.PrefixSalt,
        };
        child._tokens.Clear();
        child._tokens.AddRange(parent._tokens);
        return child;
    }
}

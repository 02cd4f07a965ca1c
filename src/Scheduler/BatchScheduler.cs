using Inference.Scheduler.Batching;
using Inference.Scheduler.Fairness;
using Inference.Scheduler.KvCache;
using Inference.Scheduler.Queues;

namespace Inference.Scheduler;

/// <summary>
/// Iteration-level scheduler for one worker. Each <see cref="Schedule"/> plans a step under
/// max_num_seqs and max_num_batched_tokens: running decodes first, then partial prefills, then new
/// prefills chunked to the remaining budget (stall-free batching), admitting waiting requests by class,
/// tenant fairness (VTC) and arrival. KV blocks come from the <see cref="BlockManager"/> (prefix-cache
/// hits skip prefill); when blocks run out the lowest-class, most recently admitted sequence is
/// preempted and later recomputed. Single-threaded: the engine loop owns it.
/// </summary>
public sealed partial class BatchScheduler
{
    private readonly SchedulerOptions _options;
    private readonly BlockManager _blocks;
    private readonly TimeProvider _time;
    private readonly Func<string, ulong> _prefixSalt;
    private readonly WaitingQueue _waiting;
    private readonly VirtualTokenCounter _fairness;
    private readonly List<Sequence> _running = [];
    private readonly Dictionary<string, List<Sequence>> _requests = new(StringComparer.Ordinal);
    private readonly StepPlan _plan = new();
    private readonly List<Sequence> _forked = [];
    private readonly int _watermarkBlocks;
    private readonly long _agingCheckTicks;
    private long _nextSequenceId;
    private long _admissions;
    private long _lastAgingCheck;

    /// <param name="prefixSalt">Per-tenant salt for prefix-cache keys (see <see cref="PrefixSalt"/>); tenants never share cached blocks.</param>
    public BatchScheduler(SchedulerOptions options, BlockManager blocks, TimeProvider time, Func<string, ulong> prefixSalt)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(prefixSalt);
        options.Validate();
        _options = options;
        _blocks = blocks;
        _time = time;
        _prefixSalt = prefixSalt;
        _waiting = new WaitingQueue(time, options.AgingInterval);
        _fairness = new VirtualTokenCounter(t => options.TenantWeights.TryGetValue(t, out double w) ? w : options.DefaultTenantWeight);
        _watermarkBlocks = (int)(blocks.TotalBlocks * options.Watermark);
        Admission = new AdmissionRule(options.MaxModelLength, blocks.BlockSize, blocks.TotalBlocks - _watermarkBlocks);
        _agingCheckTicks = options.AgingInterval > TimeSpan.Zero
            ? (long)(options.AgingInterval.TotalSeconds / 8 * time.TimestampFrequency)
            : long.MaxValue;
        _lastAgingCheck = time.GetTimestamp();
    }

    public SchedulerOptions Options => _options;

    /// <summary>The rule <see cref="TryAdd"/> applies; callers on other threads may check it first (immutable).</summary>
    public AdmissionRule Admission { get; }

    public BlockManager Blocks => _blocks;

    public VirtualTokenCounter Fairness => _fairness;

    public int NumWaiting => _waiting.Count;

    public int NumRunning => _running.Count;

    /// <summary>Running sequences, highest class and oldest admission first.</summary>
    public IReadOnlyList<Sequence> Running => _running;

    public long TotalPreemptions { get; private set; }

    /// <summary>Waiting sequences of one class (after aging).</summary>
    public int NumWaitingOf(PriorityClass priorityClass) => _waiting.CountOf(priorityClass);

    public bool HasWork => _running.Count > 0 || _waiting.Count > 0;

    /// <summary>
    /// Queues a request, or refuses it at once (queue bounds, or a request that could never fit in the
    /// KV cache). Returns the request's first sequence when accepted.
    /// </summary>
    public AdmissionResult TryAdd(SchedulerRequest request, out Sequence? sequence)
    {
        ArgumentNullException.ThrowIfNull(request);
        sequence = null;
        if (request.PromptTokens.Count == 0)
        {
            throw new ArgumentException("A request needs at least one prompt token.", nameof(request));
        }

        if (request.N < 1 || request.MaxTokens < 1)
        {
            throw new ArgumentException("A request needs n >= 1 and max_tokens >= 1.", nameof(request));
        }

        if (_requests.ContainsKey(request.RequestId))
        {
            return AdmissionResult.DuplicateId;
        }

        if (_waiting.Count >= _options.MaxQueuedRequests)
        {
            return AdmissionResult.QueueFull;
        }

        if (_waiting.Tokens + request.PromptTokens.Count > _options.MaxQueuedTokens)
        {
            return AdmissionResult.QueueTokensFull;
        }

        if (Admission.Check(request.PromptTokens.Count, request.MaxTokens) is not null)
        {
            return AdmissionResult.TooLargeForCache;
        }

        var seq = new Sequence(_nextSequenceId++, request, _time.GetTimestamp(), 0)
        {
            EffectiveClass = request.Class,
            PrefixSalt = _prefixSalt(request.Tenant),
        };
        _requests[request.RequestId] = [seq];
        _fairness.Activate(request.Tenant);
        _waiting.Enqueue(seq);
        sequence = seq;
        return AdmissionResult.Accepted;
    }

    /// <summary>
    /// Aborts every sequence of a request wherever it is (waiting, running or preempted); its blocks are
    /// free when this returns. False when the id is unknown (already finished).
    /// </summary>
    public bool Abort(string requestId)
    {
        if (!_requests.TryGetValue(requestId, out List<Sequence>? sequences))
        {
            return false;
        }

        for (int i = sequences.Count - 1; i >= 0; i--)
        {
            Finish(sequences[i], FinishReason.Abort);
        }

        return true;
    }

    /// <summary>The sequences of a live request (n of them once its prompt completed), or null.</summary>
    public IReadOnlyList<Sequence>? SequencesOf(string requestId) =>
        _requests.TryGetValue(requestId, out List<Sequence>? list) ? list : null;

    /// <summary>
    /// Ends a sequence (stop token, stop string, length, abort, error) and frees its blocks at once.
    /// Finishing an already finished sequence does nothing.
    /// </summary>
    public void Finish(Sequence sequence, FinishReason reason)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.IsFinished)
        {
            return;
        }

        switch (sequence.Status)
        {
            case SequenceStatus.Waiting or SequenceStatus.Preempted:
                _waiting.Remove(sequence);
                break;
            case SequenceStatus.Running:
                _running.Remove(sequence);
                break;
        }

        _blocks.Free(sequence.BlockTable);
        sequence.Status = SequenceStatus.Finished;
        sequence.FinishReason = reason == FinishReason.None ? FinishReason.Stop : reason;
        _fairness.Deactivate(sequence.Request.Tenant);
        if (_requests.TryGetValue(sequence.Request.RequestId, out List<Sequence>? siblings))
        {
            siblings.Remove(sequence);
            if (siblings.Count == 0)
            {
                _requests.Remove(sequence.Request.RequestId);
            }
        }
    }

    /// <summary>
    /// Records a finished step: the engine has appended one sampled token to every sequence in each
    /// chunk's <see cref="ScheduledChunk.SampleInto"/> and finished those that hit a stop condition (its stop
    /// check, max_tokens included, is the engine's alone). Registers newly full blocks in the prefix cache and
    /// charges tenants for the tokens served.
    /// </summary>
    public void Complete(StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            Sequence seq = chunk.Sequence;
            int outputs = chunk.NeedsSample ? chunk.SampleInto.Count : 0;
            _fairness.Charge(seq.Request.Tenant, 0, outputs); // prefill was charged when planned
            if (!seq.IsFinished)
            {
                _blocks.CommitFullBlocks(seq.BlockTable, seq.TokenSpan, seq.NumComputed, seq.PrefixSalt);
            }
        }
    }
}

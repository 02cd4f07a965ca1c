using System.Diagnostics;
using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Scheduler.Batching;
using Inference.Scheduler.KvCache;
using Inference.Worker.Runtime;

namespace Inference.Worker.Engine;

/// <summary>
/// The engine's synchronous core: <see cref="Step"/> plans one iteration (the scheduler), executes it (one
/// forward, one sampling pass) and updates from the output (append tokens, every stop check, prefix-cache
/// commits and tenant charges, events to each request's channel, usage once at the end). Nothing here is
/// thread-safe: one thread owns a core. <see cref="EngineLoop"/> runs one on its dedicated thread and only pumps
/// intake and control into it; tests and benchmarks drive the same core directly, without a thread.
/// </summary>
public sealed partial class EngineCore
{
    private readonly ModelRuntime _runtime;
    private readonly EngineOptions _options;
    private readonly BatchScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Executor _executor;
    private readonly Dictionary<string, RequestState> _live = new(StringComparer.Ordinal);
    private readonly Action<RequestState>? _leftQueue;
    private readonly Action<RequestState>? _closed;
    private long _steps;
    private long _generated;
    private long _promptComputed;

    /// <summary>A core over <paramref name="runtime"/> (owned by the caller).</summary>
    public EngineCore(ModelRuntime runtime, EngineOptions options, TimeProvider time, Random random)
        : this(runtime, options, time, random, leftQueue: null, closed: null)
    {
    }

    // leftQueue: a request was first planned (or ended unplanned); closed: its stream has ended. The loop keeps its
    // queue bounds and request ids with these.
    internal EngineCore(
        ModelRuntime runtime, EngineOptions options, TimeProvider time, Random random,
        Action<RequestState>? leftQueue, Action<RequestState>? closed)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(random);
        options.Scheduler.Validate();
        _runtime = runtime;
        _options = options;
        _time = time;
        _random = random;
        _leftQueue = leftQueue;
        _closed = closed;
        var blocks = new BlockManager(runtime.Cache.NumBlocks, runtime.Cache.BlockSize, options.EnablePrefixCaching);
        byte[] secret = options.PrefixCacheSecret;
        // One admission rule: the scheduler's, with the model's context. Queue bounds belong to whoever queues
        // (the loop counts intake too); the scheduler's own would also count preempted sequences and could refuse
        // a request that was accepted.
        SchedulerOptions scheduling = options.Scheduler with
        {
            MaxModelLength = runtime.Model.MaxModelLength,
            MaxQueuedRequests = int.MaxValue,
            MaxQueuedTokens = long.MaxValue,
        };
        _scheduler = new BatchScheduler(scheduling, blocks, time, tenant => PrefixSalt.For(secret, tenant));
        _executor = new Executor(this);
        Stats = new EngineStats { KvBlocksTotal = blocks.TotalBlocks };
    }

    /// <summary>The latest stats, replaced after every step (never torn).</summary>
    public EngineStats Stats { get; private set; }

    public ModelRuntime Runtime => _runtime;

    /// <summary>The rule requests are admitted by (immutable).</summary>
    public AdmissionRule Admission => _scheduler.Admission;

    /// <summary>True while any request is waiting or running.</summary>
    public bool HasWork => _scheduler.HasWork;

    /// <summary>Requests added and not yet ended.</summary>
    public int LiveRequests => _live.Count;

    /// <summary>KV blocks held by running sequences and the prefix cache's evictable blocks excluded.</summary>
    public int UsedBlocks => _scheduler.Blocks.UsedBlocks;

    /// <summary>
    /// Validates and adds a request: null and its event stream when added, otherwise the refusal (a bad parameter,
    /// or too long for the context or the cache). Events arrive as <see cref="Step"/> runs.
    /// </summary>
    public Refusal? Add(GenerationRequest request, out ChannelReader<EngineEvent>? events)
    {
        ArgumentNullException.ThrowIfNull(request);
        events = null;
        if (Validate(request) is Refusal refusal)
        {
            return refusal;
        }

        if (_live.ContainsKey(request.RequestId))
        {
            return Refusal.Invalid("request_id", $"a request with id '{request.RequestId}' is already running", "duplicate_request_id");
        }

        var state = new RequestState(request, CreateEvents(), _time.GetTimestamp());
        Admit(state);
        events = state.Events.Reader;
        return null;
    }

    /// <summary>Aborts a request: its stream ends with an abort and its blocks are freed at once.</summary>
    public void Abort(string requestId) => Control(requestId, -1, FinishReason.Abort);

    // Unbounded so end-of-request events always fit; the core bounds tokens itself (a reader that falls
    // MaxBufferedEventsPerRequest behind is aborted, never waited for). Multi-reader: Count is only supported there.
    internal static Channel<EngineEvent> CreateEvents() =>
        Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });

    /// <summary>Parameter and admission checks (no queue bounds: those are the caller's).</summary>
    internal Refusal? Validate(GenerationRequest request)
    {
        int vocab = _runtime.Config.VocabSize;
        try
        {
            request.Sampling.Validate(vocab);
        }
        catch (Sampling.InvalidParameterException ex)
        {
            return Refusal.Invalid(ex.Param, ex.Message);
        }

        if (request.N < 1)
        {
            return Refusal.Invalid("n", "n must be >= 1");
        }

        if (request.Grammar is { } grammar)
        {
            try
            {
                _runtime.Constraints.Compile(grammar);
            }
            catch (Constraints.GrammarException ex)
            {
                return Refusal.Invalid("grammar", "the grammar cannot be compiled: " + ex.Message, "invalid_grammar");
            }
        }

        foreach (int id in request.PromptTokens)
        {
            if ((uint)id >= (uint)vocab)
            {
                return Refusal.Invalid("prompt", $"prompt token id {id} is outside the vocabulary [0, {vocab})", "invalid_token_id");
            }
        }

        return _scheduler.Admission.Check(request.PromptTokens.Count, request.Sampling.MaxTokens);
    }

    /// <summary>Hands a validated request to the scheduler.</summary>
    internal void Admit(RequestState state)
    {
        GenerationRequest r = state.Request;
        var request = new SchedulerRequest
        {
            RequestId = r.RequestId,
            PromptTokens = r.PromptTokens,
            MaxTokens = r.Sampling.MaxTokens,
            Class = r.Class,
            Priority = r.Priority,
            Tenant = r.Tenant,
            N = r.N,
        };
        AdmissionResult result = _scheduler.TryAdd(request, out Sequence? seq);
        if (result != AdmissionResult.Accepted)
        {
            // Validate applied the same rule and the scheduler has no queue bounds here: unreachable unless an
            // invariant broke, so say which.
            Close(state, FinishReason.Error, $"request refused after it was accepted ({result}): an engine invariant was broken");
            return;
        }

        state.Emitted = new int[r.N];
        Track(seq!, state);
        _live[r.RequestId] = state;
    }

    /// <summary>
    /// Ends a whole request (<paramref name="choice"/> &lt; 0: abort) or one choice (a stop string matched on the
    /// reader side). False when the request is not live here (not added yet, or already ended).
    /// </summary>
    internal bool Control(string requestId, int choice, FinishReason reason)
    {
        if (!_live.TryGetValue(requestId, out RequestState? state))
        {
            return false;
        }

        if (choice < 0)
        {
            _scheduler.Abort(requestId);
            Close(state, FinishReason.Abort, null);
            return true;
        }

        IReadOnlyList<Sequence>? sequences = _scheduler.SequencesOf(requestId);
        if (sequences is null)
        {
            return true;
        }

        for (int i = sequences.Count - 1; i >= 0; i--)
        {
            Sequence seq = sequences[i];
            if (seq.Index == choice)
            {
                _scheduler.Finish(seq, reason);
                OnChoiceFinished(state, seq);
                break;
            }
        }

        return true;
    }

    /// <summary>
    /// Runs one engine iteration: schedule, execute, update. Returns false when nothing could be planned (no work,
    /// or every running sequence waits for memory), true after a step ran.
    /// </summary>
    public bool Step()
    {
        long t0 = Stopwatch.GetTimestamp();
        StepPlan plan = _scheduler.Schedule();
        long t1 = Stopwatch.GetTimestamp();
        if (plan.IsEmpty)
        {
            PublishStats(0, 0, 0);
            return false;
        }

        Planned(plan);
        (double forwardMicros, double sampleMicros, string? error) = _executor.Execute(plan);
        _steps++;
        Update(plan, error);
        PublishStats(Stopwatch.GetElapsedTime(t0, t1).TotalMicroseconds, forwardMicros, sampleMicros);
        return true;
    }

    /// <summary>Ends every live request with an error (shutting down), so no reader hangs.</summary>
    internal void Shutdown(string reason)
    {
        foreach (RequestState state in _live.Values.ToList())
        {
            _scheduler.Abort(state.Request.RequestId);
            Close(state, FinishReason.Error, reason);
        }
    }

    /// <summary>Publishes idle stats (nothing running).</summary>
    internal void PublishIdle() => PublishStats(0, 0, 0);
}

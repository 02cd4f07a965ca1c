using System.Collections.Concurrent;
using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Scheduler.KvCache;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Engine;

/// <summary>
/// The worker's engine: one dedicated thread runs plan -> forward -> sample -> emit -> free over a
/// <see cref="BatchScheduler"/>. Requests come in through <see cref="Submit"/> (any thread) and leave as
/// <see cref="EngineEvent"/>s on a bounded per-request channel read by a <see cref="GenerationStream"/>.
/// A reader that stops reading never blocks the loop: past the bound its request is aborted.
/// Dispose stops the thread; the runtime stays owned by the caller.
/// </summary>
public sealed partial class EngineLoop : IDisposable
{
    private static readonly TimeSpan OverloadRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShutdownRetryAfter = TimeSpan.FromSeconds(5);
    private readonly ModelRuntime _runtime;
    private readonly EngineOptions _options;
    private readonly BatchScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Thread _thread;

    // Intake: bounded at max_queued_requests. Submit counts requests against the same limit first and only
    // ever TryWrites, so a full channel means overload and the request is refused at once. Control messages
    // (abort, stop) are unbounded: one per request at most matters, and losing one would leak blocks.
    private readonly Channel<RequestState> _intake;
    private readonly Channel<(string RequestId, int Choice, FinishReason Reason)> _control =
        Channel.CreateUnbounded<(string, int, FinishReason)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<string, RequestState> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);
    private volatile bool _stopping;
    private long _queuedRequests;
    private long _queuedTokens;

    public EngineLoop(ModelRuntime runtime, EngineOptions options, TimeProvider time, Random random)
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
        var blocks = new BlockManager(runtime.Cache.NumBlocks, runtime.Cache.BlockSize, options.EnablePrefixCaching);
        byte[] secret = options.PrefixCacheSecret;
        // One admission rule: the scheduler's, with the model's context. Queue bounds are Submit's alone (it
        // counts intake too); the scheduler's own would also count preempted sequences and could refuse a
        // request Submit accepted.
        SchedulerOptions scheduling = options.Scheduler with
        {
            MaxModelLength = runtime.Model.MaxModelLength,
            MaxQueuedRequests = int.MaxValue,
            MaxQueuedTokens = long.MaxValue,
        };
        _scheduler = new BatchScheduler(scheduling, blocks, time, tenant => PrefixSalt.For(secret, tenant));
        _intake = Channel.CreateBounded<RequestState>(new BoundedChannelOptions(options.Scheduler.MaxQueuedRequests)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // only TryWrite is used: full means refuse
        });
        _stepper = new Stepper(this);
        Stats = new EngineStats { KvBlocksTotal = blocks.TotalBlocks };
        _thread = new Thread(Run) { IsBackground = true, Name = "engine-loop" };
        _thread.Start();
    }

    /// <summary>The latest stats, replaced after every step (never torn).</summary>
    public EngineStats Stats { get; private set; }

    public ModelRuntime Runtime => _runtime;

    /// <summary>The rule <see cref="Submit"/> and the scheduler admit by (immutable).</summary>
    public AdmissionRule Admission => _scheduler.Admission;

    /// <summary>
    /// Validates and queues a request: null and a <paramref name="stream"/> when accepted, otherwise the
    /// refusal, at once (Invalid: a bad parameter, or too long for the context or the cache, with both
    /// numbers; Overloaded: the queue bounds; Unavailable: shutting down). A request accepted here is never
    /// refused later: the scheduler admits by the same <see cref="AdmissionRule"/>.
    /// </summary>
    public Refusal? Submit(GenerationRequest request, out GenerationStream? stream)
    {
        ArgumentNullException.ThrowIfNull(request);
        stream = null;
        if (_stopping)
        {
            return Refusal.Unavailable("the engine is shutting down", ShutdownRetryAfter, "shutting_down");
        }

        if (Validate(request) is Refusal invalid)
        {
            return invalid;
        }

        // The queue bounds are decided here only (the loop's scheduler has none of its own, see the constructor).
        SchedulerOptions limits = _options.Scheduler;
        if (Interlocked.Increment(ref _queuedRequests) > limits.MaxQueuedRequests)
        {
            Interlocked.Decrement(ref _queuedRequests);
            return Refusal.Overloaded($"the waiting queue is full ({limits.MaxQueuedRequests} requests)", OverloadRetryAfter);
        }

        if (Interlocked.Add(ref _queuedTokens, request.PromptTokens.Count) > limits.MaxQueuedTokens)
        {
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            return Refusal.Overloaded($"the waiting queue holds too many tokens (limit {limits.MaxQueuedTokens})", OverloadRetryAfter);
        }

        if (!_ids.TryAdd(request.RequestId, 0))
        {
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            return Refusal.Invalid("request_id", $"a request with id '{request.RequestId}' is already running", "duplicate_request_id");
        }

        // Unbounded so end-of-request events always fit; the loop enforces MaxBufferedEventsPerRequest on
        // tokens itself (a reader that falls that far behind is aborted, never waited for).
        var channel = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true }); // multi-reader: Count is only supported there
        var state = new RequestState(request, channel, _time.GetTimestamp());
        if (!_intake.Writer.TryWrite(state))
        {
            _ids.TryRemove(request.RequestId, out _);
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            return Refusal.Overloaded("the intake queue is full", OverloadRetryAfter);
        }

        stream = new GenerationStream(this, request, channel.Reader, _runtime.Tokenizer);
        _wake.Release();
        return null;
    }

    /// <summary>Aborts a request (client gone); its blocks are freed by the next step.</summary>
    public void Abort(string requestId) => Control(requestId, -1, FinishReason.Abort);

    /// <summary>Ends one choice (a stop string matched on the reader side); frees its blocks by the next step.</summary>
    internal void StopChoice(string requestId, int choice) => Control(requestId, choice, FinishReason.Stop);

    private void Control(string requestId, int choice, FinishReason reason)
    {
        _control.Writer.TryWrite((requestId, choice, reason)); // unbounded: always succeeds
        _wake.Release();
    }

    private Refusal? Validate(GenerationRequest request)
    {
        int vocab = _runtime.Config.VocabSize;
        try
        {
            request.Sampling.Validate(vocab);
        }
        catch (InvalidParameterException ex)
        {
            return Refusal.Invalid(ex.Param, ex.Message);
        }

        if (request.N < 1)
        {
            return Refusal.Invalid("n", "n must be >= 1");
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

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _wake.Release();
        _thread.Join();
        _wake.Dispose();
    }
}

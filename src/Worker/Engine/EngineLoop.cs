using System.Collections.Concurrent;
using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Scheduler.KvCache;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Engine;

/// <summary>
/// The worker's engine thread around an <see cref="EngineCore"/>: requests come in through <see cref="Submit"/>
/// (any thread, with the queue bounds), aborts and stop-string ends through control; the dedicated thread only
/// pumps both into the core and calls <see cref="EngineCore.Step"/>. Events leave on a per-request channel read
/// by a <see cref="GenerationStream"/>; a reader that stops reading never blocks the loop (past the bound its
/// request is aborted). Dispose stops the thread; the runtime stays owned by the caller.
/// </summary>
public sealed class EngineLoop : IDisposable
{
    private static readonly TimeSpan OverloadRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShutdownRetryAfter = TimeSpan.FromSeconds(5);
    private readonly ModelRuntime _runtime;
    private readonly EngineOptions _options;
    private readonly EngineCore _core;
    private readonly TimeProvider _time;
    private readonly Thread _thread;

    // Intake: bounded at max_queued_requests. Submit counts requests against the same limit first and only
    // ever TryWrites, so a full channel means overload and the request is refused at once. Control messages
    // (abort, stop) are unbounded: one per request at most matters, and losing one would leak blocks.
    private readonly Channel<RequestState> _intake;
    private readonly Channel<(string RequestId, int Choice, FinishReason Reason)> _control =
        Channel.CreateUnbounded<(string, int, FinishReason)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _wake = new(0);
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
        _runtime = runtime;
        _options = options;
        _time = time;
        _core = new EngineCore(runtime, options, time, random, LeaveQueue, state => _ids.TryRemove(state.Request.RequestId, out _));
        _intake = Channel.CreateBounded<RequestState>(new BoundedChannelOptions(options.Scheduler.MaxQueuedRequests)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // only TryWrite is used: full means refuse
        });
        _thread = new Thread(Run) { IsBackground = true, Name = "engine-loop" };
        _thread.Start();
    }

    /// <summary>The latest stats, replaced after every step (never torn).</summary>
    public EngineStats Stats => _core.Stats;

    public ModelRuntime Runtime => _runtime;

    /// <summary>The rule <see cref="Submit"/> and the scheduler admit by (immutable).</summary>
    public AdmissionRule Admission => _core.Admission;

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

        if (_core.Validate(request) is Refusal invalid)
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

        Channel<EngineEvent> channel = EngineCore.CreateEvents();
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

    private void Run()
    {
        while (!_stopping)
        {
            DrainIntake();
            DrainControl();
            if (!_core.HasWork)
            {
                _core.PublishIdle();
                _wake.Wait();
                continue;
            }

            if (!_core.Step())
            {
                // Nothing fits right now (e.g. every running sequence waits for memory): yield briefly.
                _wake.Wait(1);
            }
        }

        // Shutting down: every live request ends with an error rather than hanging its reader.
        DrainIntake();
        _core.Shutdown("the engine is shutting down");
    }

    private void DrainIntake()
    {
        while (_intake.Reader.TryRead(out RequestState? state))
        {
            _core.Admit(state);
        }
    }

    private void DrainControl()
    {
        while (_control.Reader.TryRead(out var message))
        {
            // An abort by id can overtake its request: Submit wrote intake after this iteration drained it.
            // Intake was written before the control message, so draining it again finds the request.
            if (!_core.Control(message.RequestId, message.Choice, message.Reason))
            {
                DrainIntake();
                _core.Control(message.RequestId, message.Choice, message.Reason);
            }
        }
    }

    // Submit counts a request against the queue limits until it is first scheduled (or ends unscheduled).
    private void LeaveQueue(RequestState state)
    {
        Interlocked.Decrement(ref _queuedRequests);
        Interlocked.Add(ref _queuedTokens, -state.Request.PromptTokens.Count);
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

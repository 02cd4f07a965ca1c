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
        _scheduler = new BatchScheduler(options.Scheduler, blocks, time, tenant => PrefixSalt.For(secret, tenant));
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

    /// <summary>
    /// Validates and queues a request. Refusals are immediate: Invalid (too long for the context or the
    /// cache; <paramref name="error"/> says why with both numbers) or Overloaded (queue limits).
    /// </summary>
    public SubmitStatus Submit(GenerationRequest request, out GenerationStream? stream, out string? error) =>
        Submit(request, out stream, out error, out _);

    /// <summary>As <see cref="Submit(GenerationRequest, out GenerationStream?, out string?)"/>; an Invalid refusal also names the request parameter at fault.</summary>
    public SubmitStatus Submit(GenerationRequest request, out GenerationStream? stream, out string? error, out string? param)
    {
        ArgumentNullException.ThrowIfNull(request);
        stream = null;
        error = null;
        param = null;
        if (_stopping)
        {
            error = "the engine is shutting down";
            return SubmitStatus.ShuttingDown;
        }

        if (!Validate(request, out error, out param))
        {
            return SubmitStatus.Invalid;
        }

        SchedulerOptions limits = _options.Scheduler;
        if (Interlocked.Increment(ref _queuedRequests) > limits.MaxQueuedRequests)
        {
            Interlocked.Decrement(ref _queuedRequests);
            error = $"the waiting queue is full ({limits.MaxQueuedRequests} requests)";
            return SubmitStatus.Overloaded;
        }

        if (Interlocked.Add(ref _queuedTokens, request.PromptTokens.Count) > limits.MaxQueuedTokens)
        {
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            error = $"the waiting queue holds too many tokens (limit {limits.MaxQueuedTokens})";
            return SubmitStatus.Overloaded;
        }

        if (!_ids.TryAdd(request.RequestId, 0))
        {
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            error = $"a request with id '{request.RequestId}' is already running";
            return SubmitStatus.Invalid;
        }

        // Unbounded so end-of-request events always fit; the loop enforces MaxBufferedEventsPerRequest on
        // tokens itself (a reader that falls that far behind is aborted, never waited for).
        var channel = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true }); // multi-reader: Count is only supported there
        var state = new RequestState(request, channel, _time.GetTimestamp());
        stream = new GenerationStream(this, request, channel.Reader, _runtime.Tokenizer);
        if (!_intake.Writer.TryWrite(state))
        {
            _ids.TryRemove(request.RequestId, out _);
            Interlocked.Decrement(ref _queuedRequests);
            Interlocked.Add(ref _queuedTokens, -request.PromptTokens.Count);
            error = "the intake queue is full";
            return SubmitStatus.Overloaded;
        }

        _wake.Release();
        return SubmitStatus.Accepted;
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

    private bool Validate(GenerationRequest request, out string? error, out string? param)
    {
        error = null;
        param = null;
        int prompt = request.PromptTokens.Count;
        int vocab = _runtime.Config.VocabSize;
        int limit = _runtime.Model.MaxModelLength;
        try
        {
            request.Sampling.Validate(vocab);
        }
        catch (InvalidParameterException ex)
        {
            error = ex.Message;
            param = ex.Param;
            return false;
        }

        if (prompt == 0)
        {
            error = "the prompt is empty";
            param = "prompt";
            return false;
        }

        foreach (int id in request.PromptTokens)
        {
            if ((uint)id >= (uint)vocab)
            {
                error = $"prompt token id {id} is outside the vocabulary [0, {vocab})";
                param = "prompt";
                return false;
            }
        }

        if (prompt + request.Sampling.MaxTokens > limit)
        {
            error = $"this model's maximum context length is {limit} tokens, but the prompt has {prompt} tokens and max_tokens is {request.Sampling.MaxTokens} ({prompt + request.Sampling.MaxTokens} in total)";
            param = "max_tokens";
            return false;
        }

        long blocksNeeded = ((long)prompt + request.Sampling.MaxTokens + _runtime.Cache.BlockSize - 1) / _runtime.Cache.BlockSize;
        if (blocksNeeded > _runtime.Cache.NumBlocks)
        {
            error = $"prompt + max_tokens need {blocksNeeded} KV blocks but the cache has {_runtime.Cache.NumBlocks}";
            param = "max_tokens";
            return false;
        }

        if (request.N < 1)
        {
            error = "n must be >= 1";
            param = "n";
            return false;
        }

        return true;
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

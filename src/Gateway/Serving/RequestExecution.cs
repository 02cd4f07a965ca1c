using System.Runtime.CompilerServices;
using System.Text.Json;
using Inference.Gateway.Caching;
using Inference.Gateway.Metering;
using Inference.Gateway.Quotas;
using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Serving;

/// <summary>
/// One admitted request being served, from the response cache or the workers. Disposing it ends the
/// request exactly once, however it ended: the token reservation is reconciled to actual usage, one usage
/// record is written, metrics are updated, and a complete deterministic answer is stored in the cache.
/// </summary>
public sealed class RequestExecution : IAsyncDisposable
{
    private readonly GatewayService _service;
    private readonly Reservation? _reservation;
    private readonly IResponseCache? _cache;
    private readonly IUsageSink _usage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _cacheTtl;
    private readonly long _started;
    private List<RunEvent>? _recorded;
    private int _ended;
    private bool _clientGone;
    private bool _refused;
    private long _firstToken;
    private double _gapSeconds;
    private int _gaps;

    internal RequestExecution(
        GatewayService service, PreparedRequest prepared, Reservation? reservation, string api, IResponseCache? cache,
        IUsageSink usage, TimeProvider time, ILogger logger, TimeSpan cacheTtl)
    {
        _service = service;
        Prepared = prepared;
        _reservation = reservation;
        Api = api;
        _cache = prepared.CacheKey is null ? null : cache;
        _usage = usage;
        _time = time;
        _logger = logger;
        _cacheTtl = cacheTtl;
        _started = time.GetTimestamp();
        Outcome = new RunOutcome(prepared.PromptIds.Count * prepared.Request.N);
        service.Metrics.RequestStarted();
    }

    public PreparedRequest Prepared { get; }

    public string Api { get; }

    public RunOutcome Outcome { get; }

    /// <summary>Known after the first MoveNextAsync of <see cref="EventsAsync"/>.</summary>
    public bool CacheHit { get; private set; }

    /// <summary>The client went away before the end: the request is aborted and billed for what was generated.</summary>
    public void ClientGone() => _clientGone = true;

    /// <summary>
    /// The events to deliver. Throws <see cref="Api.ApiException"/> before the first event when no worker can
    /// take the request; errors after that arrive as an event with Index -1.
    /// </summary>
    public async IAsyncEnumerable<RunEvent> EventsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_cache is not null)
        {
            byte[]? cached = null;
            try
            {
                cached = await _cache.GetAsync(Prepared.CacheKey!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                GatewayService.LogCacheFailed(_logger, ex, Prepared.Id); // a cache outage must not fail requests
            }

            _service.Metrics.ResponseCache(cached is not null);
            if (cached is not null && CachedResponse.TryRead(cached, Outcome, out List<RunEvent>? events))
            {
                CacheHit = true;
                long[] replayed = new long[Outcome.FinishReasons.Count];
                foreach (RunEvent e in events)
                {
                    if (e.Index >= 0 && e.Event.TokenId >= 0)
                    {
                        long now = _time.GetTimestamp();
                        Observe(now, replayed[e.Index]);
                        replayed[e.Index] = now;
                    }

                    yield return e;
                }

                Outcome.Completed = true;
                yield break;
            }

            _recorded = [];
        }

        WorkerPool pool = _service.Pool;
        string model = Prepared.Model.Model;
        await using IAsyncEnumerator<RunEvent> run = RequestRunner.RunAsync(
            Prepared, (request, ct) => pool.GenerateAsync(model, request, ct), Outcome, cancellationToken).GetAsyncEnumerator(cancellationToken);
        bool more;
        try
        {
            more = await run.MoveNextAsync().ConfigureAwait(false);
        }
        catch (Api.ApiException)
        {
            _refused = true; // no worker took it: nothing ran, nothing is billed
            throw;
        }

        // Inter-token latency per choice, measured where tokens leave the workers.
        long[] last = new long[Outcome.FinishReasons.Count];
        while (more)
        {
            RunEvent e = run.Current;
            if (e.Index >= 0 && e.Event.TokenId >= 0)
            {
                long now = _time.GetTimestamp();
                if (last[e.Index] != 0)
                {
                    _service.Metrics.InterTokenLatency(model, _time.GetElapsedTime(last[e.Index], now).TotalSeconds);
                }

                Observe(now, last[e.Index]);
                last[e.Index] = now;
            }

            _recorded?.Add(e);
            yield return e;
            more = await run.MoveNextAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// This request's timings as the gateway saw them, from admission to now (return_timings): the worker's queue
    /// time (0 for a cache hit), the first token's arrival, the mean gap between a choice's tokens.
    /// </summary>
    public RequestTimings Timings() => new(
        CacheHit ? TimeSpan.Zero : Outcome.QueueTime,
        _firstToken == 0 ? null : _time.GetElapsedTime(_started, _firstToken),
        _gaps == 0 ? null : TimeSpan.FromSeconds(_gapSeconds / _gaps),
        _time.GetElapsedTime(_started),
        CacheHit);

    // A token left a worker (or the cache) at now; previous is the same choice's last token, 0 for its first.
    private void Observe(long now, long previous)
    {
        if (_firstToken == 0)
        {
            _firstToken = now;
        }

        if (previous != 0)
        {
            _gapSeconds += _time.GetElapsedTime(previous, now).TotalSeconds;
            _gaps++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _service.Metrics.RequestEnded();
        TimeSpan elapsed = _time.GetElapsedTime(_started);
        RunOutcome o = Outcome;
        UsageStatus status = o.Completed ? UsageStatus.Completed
            : _refused ? UsageStatus.Rejected
            : _clientGone ? UsageStatus.Cancelled
            : o.Error is not null ? UsageStatus.Failed
            : UsageStatus.Cancelled;
        FinishReason finish = o.Completed ? o.OverallFinish() : _clientGone || _refused ? FinishReason.Abort : FinishReason.Error;
        if (o.Error is not null)
        {
            GatewayService.LogRequestFailed(_logger, Prepared.Id, o.Error);
        }

        if (_reservation is not null)
        {
            try
            {
                // A cache hit costs no model tokens; everything else is billed for what the workers did.
                long actual = CacheHit ? 0 : o.PromptTokens + o.CompletionTokens;
                await _reservation.CompleteAsync(actual, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                GatewayService.LogReconcileFailed(_logger, ex, Prepared.Id);
            }
        }

        string model = Prepared.Model.Model;
        _service.Metrics.Finished(Api, status.ToString().ToLowerInvariant(), finish.ToString().ToLowerInvariant());
        if (!CacheHit)
        {
            _service.Metrics.Tokens(model, Prepared.Caller.Tenant, o.PromptTokens, o.CompletionTokens);
            _service.Metrics.Latencies(model, Prepared.Caller.KeyId, o.TimeToFirstToken, o.QueueTime, elapsed);
        }

        try
        {
            await _usage.WriteAsync(
                new UsageRecord(
                    RequestId: Prepared.Id,
                    KeyId: Prepared.Caller.KeyId,
                    Tenant: Prepared.Caller.Tenant,
                    Model: model,
                    PromptTokens: o.PromptTokens,
                    CompletionTokens: o.CompletionTokens,
                    CachedTokens: o.CachedTokens,
                    QueueTime: o.QueueTime,
                    TimeToFirstToken: o.TimeToFirstToken,
                    Duration: elapsed,
                    Status: status,
                    FinishReason: finish.ToString().ToLowerInvariant(),
                    Api: Api,
                    ResponseCacheHit: CacheHit,
                    Timestamp: _time.GetUtcNow(),
                    User: Prepared.Request.User),
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            GatewayService.LogUsageWriteFailed(_logger, ex, Prepared.Id);
        }

        if (_recorded is not null && o.Completed && o.Error is null && !CacheHit)
        {
            try
            {
                await _cache!.SetAsync(Prepared.CacheKey!, CachedResponse.Write(_recorded, o), _cacheTtl, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                GatewayService.LogCacheFailed(_logger, ex, Prepared.Id);
            }
        }
    }
}

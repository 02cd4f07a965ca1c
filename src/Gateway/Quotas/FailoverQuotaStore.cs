using System.Collections.Concurrent;
using Inference.Gateway.Keys;
using Inference.Gateway.Redis;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Quotas;

/// <summary>
/// Limits shared through Redis (<see cref="RedisQuotaStore"/>) that keep serving while Redis is unreachable
/// (<see cref="RedisStoreMonitor"/>): rate limits (requests and tokens per minute, concurrency) fall back to this
/// replica's share, the limit divided by the expected number of replicas and rounded up (so all replicas together
/// may pass a limit by at most replicas - 1); token budgets cannot be enforced by one replica, so a request of a key
/// whose key or tenant has a daily or monthly budget is refused (<see cref="QuotaAdmitResult.StoreUnavailable"/>).
/// </summary>
/// <remarks>
/// Reconciled when the store is back, before shared limits apply again:
/// <list type="bullet">
/// <item>Releases of shared reservations that could not be sent (the request ended during the outage) are sent,
/// as are undo-releases of admissions whose reply was lost (the script may or may not have run; Redis applies a
/// release only to a reservation it still holds, so the undo is exact either way).</item>
/// <item>Requests admitted locally are released locally; their usage (actual tokens, or the reservation while
/// they still run) is added to the shared per-minute windows, when still inside them, and to the shared day and
/// month counters (<see cref="RedisQuotaStore.AbsorbAsync"/>), once each.</item>
/// <item>Not reconciled: locally admitted requests still running hold no shared concurrency slot, so right after
/// the outage a key may briefly run more than its concurrency limit; local windows start empty at an outage, so
/// in its first minute a key can get its local share on top of what it used in the shared window just before.</item>
/// </list>
/// At most <see cref="MaxQueuedUsage"/> usage records wait for the store; past that the oldest are dropped (a
/// Warning says so once per outage). Releases are never dropped (at most one per request in flight).
/// </remarks>
public sealed partial class FailoverQuotaStore : IQuotaStore
{
    /// <summary>Usage records kept for reconciliation while the store is down.</summary>
    public const int MaxQueuedUsage = 100_000;

    private readonly RedisQuotaStore _shared;
    private readonly MemoryQuotaStore _local = new();
    private readonly RedisStoreMonitor _monitor;
    private readonly int _replicas;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, QuotaAdmitRequest> _admittedLocally = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<QuotaReleaseRequest> _releases = new();
    private readonly ConcurrentQueue<QuotaAbsorbRequest> _usage = new();
    private readonly Lock _passLock = new();
    private Task<int> _lastPass = Task.FromResult(0);
    private int _usageCount;
    private int _droppedWarned;

    /// <summary>Creates the store; <paramref name="expectedReplicas"/> (at least 1) gateways share the limits.</summary>
    public FailoverQuotaStore(RedisQuotaStore shared, RedisStoreMonitor monitor, int expectedReplicas, TimeProvider time, ILogger<FailoverQuotaStore> logger)
    {
        ArgumentNullException.ThrowIfNull(shared);
        ArgumentNullException.ThrowIfNull(monitor);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedReplicas, 1);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _shared = shared;
        _monitor = monitor;
        _replicas = expectedReplicas;
        _time = time;
        _logger = logger;
        monitor.AddReconciler(ReconcileAsync);
    }

    /// <summary>Requests admitted locally that have not ended yet.</summary>
    public int AdmittedLocally => _admittedLocally.Count;

    /// <summary>Releases and usage records waiting for the store.</summary>
    public int Queued => _releases.Count + Volatile.Read(ref _usageCount);

    /// <summary>This replica's share of <paramref name="limits"/>: each rate limit divided by the replicas, rounded up; budgets unchanged.</summary>
    public Limits LocalShare(Limits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return limits with
        {
            RequestsPerMinute = (int?)Share(limits.RequestsPerMinute),
            TokensPerMinute = Share(limits.TokensPerMinute),
            ConcurrentRequests = (int?)Share(limits.ConcurrentRequests),
        };
    }

    /// <inheritdoc/>
    public async ValueTask<QuotaAdmitResult> TryAdmitAsync(QuotaAdmitRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_monitor.IsUp)
        {
            try
            {
                return await _shared.TryAdmitAsync(request, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (_monitor.TryReportOutage(ex))
            {
                // The script may have run before the connection broke: undo it once the store is back.
                _releases.Enqueue(new QuotaReleaseRequest(request.ReservationId, request.Scopes, request.Tokens, 0, request.Day, request.Month));
            }
        }

        return await AdmitLocallyAsync(request, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask ReleaseAsync(QuotaReleaseRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_admittedLocally.TryRemove(request.ReservationId, out QuotaAdmitRequest? admitted))
        {
            await _local.ReleaseAsync(request, ct).ConfigureAwait(false);
            var usage = new QuotaAbsorbRequest(request.ReservationId, request.Scopes, admitted.NowMs, request.ActualTokens, request.Day, request.Month, admitted.WindowMs);
            if (!await TrySendAsync(c => _shared.AbsorbAsync(usage, _time.GetUtcNow().ToUnixTimeMilliseconds(), c), ct).ConfigureAwait(false))
            {
                QueueUsage(usage);
            }

            return;
        }

        if (!await TrySendAsync(c => _shared.ReleaseAsync(request, c), ct).ConfigureAwait(false))
        {
            _releases.Enqueue(request);
        }
    }

    private async ValueTask<QuotaAdmitResult> AdmitLocallyAsync(QuotaAdmitRequest request, CancellationToken ct)
    {
        var scopes = request.Scopes;
        var local = new QuotaScope[scopes.Count];
        var limits = new Limits[scopes.Count];
        for (int i = 0; i < scopes.Count; i++)
        {
            Limits l = scopes[i].Limits;
            if (l.DailyTokens is not null || l.MonthlyTokens is not null)
            {
                return new QuotaAdmitResult(
                    false, i, l.DailyTokens is not null ? QuotaLimit.DailyTokens : QuotaLimit.MonthlyTokens, -1,
                    new ScopeUsage[scopes.Count], StoreUnavailable: true);
            }

            limits[i] = LocalShare(l);
            local[i] = scopes[i] with { Limits = limits[i] };
        }

        QuotaAdmitResult result = await _local.TryAdmitAsync(request with { Scopes = local }, ct).ConfigureAwait(false);
        if (result.Admitted)
        {
            _admittedLocally[request.ReservationId] = request;
        }

        return result with { LocalLimits = limits };
    }

    private long? Share(long? limit) => limit is { } l ? (l + _replicas - 1) / _replicas : null;

    // Sends to the shared store while it is up; false (to queue the item) when it is down or goes down now.
    private async ValueTask<bool> TrySendAsync(Func<CancellationToken, ValueTask> send, CancellationToken ct)
    {
        if (!_monitor.IsUp)
        {
            return false;
        }

        try
        {
            await send(ct).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (_monitor.TryReportOutage(ex))
        {
            return false;
        }
    }

    private void QueueUsage(QuotaAbsorbRequest usage)
    {
        _usage.Enqueue(usage);
        if (Interlocked.Increment(ref _usageCount) > MaxQueuedUsage && _usage.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _usageCount);
            if (Interlocked.Exchange(ref _droppedWarned, 1) == 0)
            {
                LogUsageDropped(_logger, MaxQueuedUsage);
            }
        }
    }

    // Runs on the monitor's probe; passes run one after another (each queue has one reader). An outage exception
    // propagates (the store stays down) and leaves the item that failed at the head of its queue.
    private ValueTask<int> ReconcileAsync(CancellationToken ct)
    {
        lock (_passLock)
        {
            Task<int> pass = DrainAfterAsync(_lastPass, ct);
            _lastPass = pass;
            return new ValueTask<int>(pass);
        }
    }

    private async Task<int> DrainAfterAsync(Task previous, CancellationToken ct)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int done = 0;
        while (_releases.TryPeek(out QuotaReleaseRequest? release))
        {
            try
            {
                await _shared.ReleaseAsync(release, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (!RedisStoreMonitor.IsOutage(ex) && ex is not OperationCanceledException)
            {
                LogReconcileFailed(_logger, ex, release.ReservationId); // a bug, not an outage: retrying would not help
            }

            _releases.TryDequeue(out _);
            done++;
        }

        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        while (_usage.TryPeek(out QuotaAbsorbRequest? usage))
        {
            try
            {
                await _shared.AbsorbAsync(usage, now, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (!RedisStoreMonitor.IsOutage(ex) && ex is not OperationCanceledException)
            {
                LogReconcileFailed(_logger, ex, usage.ReservationId);
            }

            if (_usage.TryDequeue(out _))
            {
                Interlocked.Decrement(ref _usageCount);
            }

            done++;
        }

        Volatile.Write(ref _droppedWarned, 0);
        return done;
    }

    [LoggerMessage(EventId = 3204, Level = LogLevel.Error, Message = "Reservation {ReservationId} could not be reconciled with the limits store")]
    private static partial void LogReconcileFailed(ILogger logger, Exception ex, string reservationId);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "More than {Max} usage records are waiting for the limits store: the oldest are dropped and will not count in the shared windows and budgets")]
    private static partial void LogUsageDropped(ILogger logger, int max);
}

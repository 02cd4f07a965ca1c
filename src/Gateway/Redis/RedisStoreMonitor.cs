using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Inference.Gateway.Redis;

/// <summary>
/// Whether the redis-server behind <c>--redis</c> (limits, reservations, response cache) answers. Its users report
/// an outage when a command fails with a connection error or a timeout (<see cref="IsOutage"/>), and the multiplexer
/// reports a broken connection; from then on <see cref="IsUp"/> is false and they serve locally without touching
/// Redis, so an outage costs no timeout per request. A background probe (a PING every probe interval, and at once
/// when the multiplexer has reconnected) runs the registered reconcilers when the server answers again, then sets
/// <see cref="IsUp"/>. One Warning when the store goes down, one Information when it is back.
/// </summary>
public sealed partial class RedisStoreMonitor : IAsyncDisposable
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _probeInterval;
    private readonly List<Func<CancellationToken, ValueTask<int>>> _reconcilers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _restored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _probe = Task.CompletedTask;
    private int _up = 1;
    private long _downAt;

    /// <summary>Watches <paramref name="redis"/>, which must be connected (the store starts up).</summary>
    public RedisStoreMonitor(IConnectionMultiplexer redis, TimeProvider time, ILogger<RedisStoreMonitor> logger, TimeSpan? probeInterval = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _redis = redis;
        _time = time;
        _logger = logger;
        _probeInterval = probeInterval ?? TimeSpan.FromSeconds(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_probeInterval, TimeSpan.Zero, nameof(probeInterval));
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
    }

    /// <summary>False from the first failure until the store answers again and has been reconciled.</summary>
    public bool IsUp => Volatile.Read(ref _up) == 1;

    /// <summary>True for the failures that mean "the store is unreachable" (not a bug or a script error).</summary>
    public static bool IsOutage(Exception ex) => ex is RedisConnectionException or RedisTimeoutException;

    /// <summary>
    /// Work to run when the store is back, before shared limits apply again (and once more just after, for what was
    /// queued meanwhile); returns how many items it reconciled. An outage exception leaves the store down and the
    /// probe retries; other failures are the reconciler's to handle.
    /// </summary>
    public void AddReconciler(Func<CancellationToken, ValueTask<int>> reconcile)
    {
        ArgumentNullException.ThrowIfNull(reconcile);
        lock (_lock)
        {
            _reconcilers.Add(reconcile);
        }
    }

    /// <summary>
    /// A command failed with <paramref name="ex"/>: when it is an outage (<see cref="IsOutage"/>) the store is
    /// marked down and this returns true, for use as an exception filter.
    /// </summary>
    public bool TryReportOutage(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (!IsOutage(ex))
        {
            return false;
        }

        MarkDown(ex.GetType().Name);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _probe.ConfigureAwait(false);
        _stop.Dispose();
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            MarkDown(e.FailureType.ToString());
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => Volatile.Read(ref _restored).TrySetResult();

    private void MarkDown(string reason)
    {
        lock (_lock)
        {
            if (_stop.IsCancellationRequested || Interlocked.CompareExchange(ref _up, 0, 1) != 1)
            {
                return; // already down: one Warning per outage, not one per request
            }

            _downAt = _time.GetTimestamp();
            string endpoints = Endpoints();
            LogDown(_logger, endpoints, reason);
            _probe = Task.Run(ProbeAsync);
        }
    }

    private async Task ProbeAsync()
    {
        CancellationToken stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            Task restored = Volatile.Read(ref _restored).Task;
            try
            {
                await Task.WhenAny(restored, Task.Delay(_probeInterval, _time, stop)).ConfigureAwait(false);
                if (restored.IsCompleted)
                {
                    Interlocked.Exchange(ref _restored, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                }

                stop.ThrowIfCancellationRequested();
                await _redis.GetDatabase().PingAsync().WaitAsync(ProbeTimeout, _time, stop).ConfigureAwait(false);
                int reconciled = await ReconcileAsync(stop).ConfigureAwait(false);
                // Logged before the switch, so whoever sees IsUp also sees the log (and the outage's end is in order).
                if (_logger.IsEnabled(LogLevel.Information))
                {
                    string endpoints = Endpoints();
                    double seconds = _time.GetElapsedTime(_downAt).TotalSeconds;
                    LogUp(_logger, endpoints, seconds, reconciled);
                }

                Volatile.Write(ref _up, 1);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (IsOutage(ex) || ex is TimeoutException)
            {
                continue; // still down
            }
            catch (Exception ex)
            {
                // A reconciler's bug must not keep the store "down" forever: it answered, so it is up.
                LogReconcileFailed(_logger, ex);
                Volatile.Write(ref _up, 1);
                return;
            }

            try
            {
                // Usage that was queued between the pass above and the switch (nothing is queued after it).
                await ReconcileAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsOutage(ex))
            {
                MarkDown(ex.GetType().Name); // down again: this loop ends, the new outage has its own
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }

            return;
        }
    }

    private async Task<int> ReconcileAsync(CancellationToken ct)
    {
        Func<CancellationToken, ValueTask<int>>[] reconcilers;
        lock (_lock)
        {
            reconcilers = [.. _reconcilers];
        }

        int count = 0;
        foreach (var reconcile in reconcilers)
        {
            count += await reconcile(ct).ConfigureAwait(false);
        }

        return count;
    }

    // Endpoints only: the configuration string may hold a password.
    private string Endpoints() => string.Join(", ", _redis.GetEndPoints().Select(e => e.ToString()));

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Limits store {Endpoints} is unreachable ({Reason}): rate limits fall back to this replica's share, keys with token budgets get 503 limits_store_unavailable, the response cache is skipped; probing until it is back")]
    private static partial void LogDown(ILogger logger, string endpoints, string reason);

    [LoggerMessage(EventId = 3205, Level = LogLevel.Error, Message = "Reconciling with the limits store failed; shared limits apply again without it")]
    private static partial void LogReconcileFailed(ILogger logger, Exception ex);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Limits store {Endpoints} is back after {Seconds:0.0} s: shared limits apply again ({Reconciled} releases and usage records reconciled)")]
    private static partial void LogUp(ILogger logger, string endpoints, double seconds, int reconciled);
}

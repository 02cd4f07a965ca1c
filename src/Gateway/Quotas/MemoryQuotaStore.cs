namespace Inference.Gateway.Quotas;

/// <summary>
/// Quota counters in this process, for a single gateway. One lock guards all scopes: an admission touches at
/// most two scopes with amortised O(1) work (each window entry is added and evicted once), so the lock is held
/// for microseconds. Scopes are kept for the life of the process (one per key and tenant that has limits).
/// </summary>
public sealed class MemoryQuotaStore : IQuotaStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ScopeState> _scopes = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask<QuotaAdmitResult> TryAdmitAsync(QuotaAdmitRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var scopes = request.Scopes;
        var usage = new ScopeUsage[scopes.Count];
        lock (_lock)
        {
            var states = new ScopeState[scopes.Count];
            int failedScope = -1;
            var failedLimit = QuotaLimit.None;
            long retry = -1;
            for (var i = 0; i < scopes.Count; i++)
            {
                if (!_scopes.TryGetValue(scopes[i].Id, out var state))
                {
                    state = new ScopeState();
                    _scopes.Add(scopes[i].Id, state);
                }

                states[i] = state;
                state.Advance(request.NowMs, request.WindowMs, request.Day, request.Month);
                usage[i] = state.Usage();
                if (failedScope < 0)
                {
                    (failedLimit, retry) = state.Check(scopes[i].Limits, request.Tokens, request.NowMs, request.WindowMs);
                    if (failedLimit != QuotaLimit.None)
                    {
                        failedScope = i;
                    }
                }
            }

            if (failedScope >= 0)
            {
                return ValueTask.FromResult(new QuotaAdmitResult(false, failedScope, failedLimit, retry, usage));
            }

            foreach (var state in states)
            {
                state.Record(request.ReservationId, request.NowMs, request.Tokens, request.NowMs + request.LeaseMs);
            }
        }

        return ValueTask.FromResult(new QuotaAdmitResult(true, -1, QuotaLimit.None, -1, usage));
    }

    /// <inheritdoc/>
    public ValueTask ReleaseAsync(QuotaReleaseRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            foreach (var scope in request.Scopes)
            {
                if (_scopes.TryGetValue(scope.Id, out var state))
                {
                    state.Release(request);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    private sealed class WindowEntry(string id, long atMs, long tokens)
    {
        public string Id { get; } = id;

        public long AtMs { get; } = atMs;

        public long Tokens { get; set; } = tokens;
    }

    private sealed class ScopeState
    {
        private readonly Queue<WindowEntry> _window = new();
        private readonly Dictionary<string, WindowEntry> _windowById = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _leases = new(StringComparer.Ordinal);
        private long _windowTokens;
        private string _day = string.Empty;
        private long _dayTokens;
        private string _month = string.Empty;
        private long _monthTokens;

        public void Advance(long nowMs, long windowMs, string day, string month)
        {
            var cutoff = nowMs - windowMs;
            while (_window.TryPeek(out var oldest) && oldest.AtMs <= cutoff)
            {
                _window.Dequeue();
                _windowById.Remove(oldest.Id);
                _windowTokens -= oldest.Tokens;
            }

            if (_leases.Count > 0)
            {
                List<string>? expired = null;
                foreach (var (id, until) in _leases)
                {
                    if (until <= nowMs)
                    {
                        (expired ??= []).Add(id);
                    }
                }

                expired?.ForEach(id => _leases.Remove(id));
            }

            // A new period starts from zero; earlier periods are no longer enforced, so they are not kept.
            if (!string.Equals(_day, day, StringComparison.Ordinal))
            {
                (_day, _dayTokens) = (day, 0);
            }

            if (!string.Equals(_month, month, StringComparison.Ordinal))
            {
                (_month, _monthTokens) = (month, 0);
            }
        }

        public ScopeUsage Usage() => new(
            _window.Count, _windowTokens, _window.TryPeek(out var oldest) ? oldest.AtMs : -1, _leases.Count, _dayTokens, _monthTokens);

        public (QuotaLimit Limit, long RetryAfterMs) Check(Keys.Limits limits, long tokens, long nowMs, long windowMs)
        {
            if (limits.DailyTokens is { } daily && _dayTokens + tokens > daily)
            {
                return (QuotaLimit.DailyTokens, -1);
            }

            if (limits.MonthlyTokens is { } monthly && _monthTokens + tokens > monthly)
            {
                return (QuotaLimit.MonthlyTokens, -1);
            }

            if (limits.RequestsPerMinute is { } rpm && _window.Count + 1 > rpm)
            {
                // The (count - rpm + 1)-th oldest admission must leave the window before one more fits.
                var index = _window.Count - rpm;
                return (QuotaLimit.RequestsPerMinute, rpm == 0 ? -1 : _window.ElementAt(index).AtMs + windowMs - nowMs);
            }

            if (limits.TokensPerMinute is { } tpm && _windowTokens + tokens > tpm)
            {
                if (tokens > tpm)
                {
                    return (QuotaLimit.TokensPerMinute, -1);
                }

                var needed = _windowTokens + tokens - tpm;
                long freed = 0;
                foreach (var entry in _window)
                {
                    freed += entry.Tokens;
                    if (freed >= needed)
                    {
                        return (QuotaLimit.TokensPerMinute, entry.AtMs + windowMs - nowMs);
                    }
                }

                return (QuotaLimit.TokensPerMinute, -1);
            }

            if (limits.ConcurrentRequests is { } concurrent && _leases.Count + 1 > concurrent)
            {
                return (QuotaLimit.ConcurrentRequests, -1);
            }

            return (QuotaLimit.None, -1);
        }

        public void Record(string id, long nowMs, long tokens, long leaseUntilMs)
        {
            var entry = new WindowEntry(id, nowMs, tokens);
            _window.Enqueue(entry);
            _windowById[id] = entry;
            _windowTokens += tokens;
            _leases[id] = leaseUntilMs;
            _dayTokens += tokens;
            _monthTokens += tokens;
        }

        public void Release(QuotaReleaseRequest request)
        {
            // Like Redis: budgets are adjusted only by the release that frees the slot (a repeat changes nothing).
            var held = _leases.Remove(request.ReservationId);
            if (_windowById.TryGetValue(request.ReservationId, out var entry))
            {
                _windowTokens += request.ActualTokens - entry.Tokens;
                entry.Tokens = request.ActualTokens;
            }

            var delta = held ? request.ActualTokens - request.ReservedTokens : 0;
            if (string.Equals(_day, request.Day, StringComparison.Ordinal))
            {
                _dayTokens += delta;
            }

            if (string.Equals(_month, request.Month, StringComparison.Ordinal))
            {
                _monthTokens += delta;
            }
        }
    }
}

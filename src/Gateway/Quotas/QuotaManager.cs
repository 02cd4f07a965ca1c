using System.Globalization;
using System.Security.Cryptography;
using Inference.Gateway.Keys;

namespace Inference.Gateway.Quotas;

/// <summary>
/// Admission control by limits of a key and of its tenant: requests and tokens per minute, concurrent requests,
/// daily and monthly token budgets. Tokens are reserved at admission (prompt + max_tokens) and reconciled when the
/// request ends (<see cref="Reservation.CompleteAsync"/>), so concurrent requests cannot overshoot a budget.
/// </summary>
/// <remarks>
/// Per-minute limits use an exact sliding window (a log of admissions over the last 60 s): with 60 RPM, the
/// 61st request within any 60 s is refused, with Retry-After until the oldest admission leaves the window.
/// A completed request's tokens in the window become its actual tokens. Budgets are per UTC day and UTC month;
/// a completion adjusts the period the request was charged to. All checks of both scopes and all reservations
/// happen in one atomic store operation: a refusal leaves nothing behind. When actual usage exceeds the
/// reservation (it should not: max_tokens bounds it), the counters take the excess and may pass the limit once.
/// </remarks>
public sealed class QuotaManager
{
    private const long WindowMs = 60_000;

    // Retry-After while the shared limits store is unreachable: the monitor probes it every second.
    private static readonly TimeSpan StoreRetryAfter = TimeSpan.FromSeconds(2);

    private readonly IQuotaStore _store;
    private readonly TimeProvider _time;
    private readonly QuotaOptions _options;
    private readonly string _idPrefix;
    private long _nextId;

    /// <summary>Creates the manager over <paramref name="store"/>.</summary>
    public QuotaManager(IQuotaStore store, TimeProvider time, QuotaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
        _options = options ?? new QuotaOptions();
        if (_options.ConcurrencyLease <= TimeSpan.Zero)
        {
            throw new ArgumentException("QuotaOptions.ConcurrencyLease must be positive.", nameof(options));
        }

        // Reservation ids must be unique across replicas sharing one Redis: a random per-instance prefix.
        _idPrefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
    }

    /// <summary>
    /// Checks <paramref name="keyLimits"/> (the key's own scope) and <paramref name="tenantLimits"/> (shared by
    /// the tenant's keys) and, when all pass, reserves a request, a concurrency slot and
    /// <paramref name="reservedTokens"/> tokens in both. Store failures propagate, except where the store handles
    /// them: <see cref="FailoverQuotaStore"/> decides locally while Redis is unreachable
    /// (<see cref="QuotaRejection.StoreUnavailable"/> for keys with a token budget).
    /// </summary>
    public async ValueTask<AdmissionDecision> AdmitAsync(
        ApiKey key, Limits keyLimits, Limits tenantLimits, long reservedTokens, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(keyLimits);
        ArgumentNullException.ThrowIfNull(tenantLimits);
        ArgumentOutOfRangeException.ThrowIfNegative(reservedTokens);

        var id = $"{_idPrefix}-{Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture)}";
        var scopes = new List<QuotaScope>(2);
        if (!keyLimits.IsUnlimited)
        {
            scopes.Add(new QuotaScope("k:" + key.KeyId, key.Tenant, keyLimits));
        }

        if (!tenantLimits.IsUnlimited)
        {
            scopes.Add(new QuotaScope("t:" + key.Tenant, key.Tenant, tenantLimits));
        }

        if (scopes.Count == 0)
        {
            return new AdmissionDecision(QuotaRejection.None, QuotaLimit.None, string.Empty, null, RateLimitHeaders.None,
                new Reservation(id, reservedTokens, null, null));
        }

        var now = _time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var day = now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var month = now.UtcDateTime.ToString("yyyyMM", CultureInfo.InvariantCulture);
        var request = new QuotaAdmitRequest(id, nowMs, reservedTokens, scopes, day, month, WindowMs,
            (long)_options.ConcurrencyLease.TotalMilliseconds);
        var result = await _store.TryAdmitAsync(request, ct).ConfigureAwait(false);

        if (result.StoreUnavailable)
        {
            var budgeted = scopes[result.FailedScope].Id.StartsWith("k:", StringComparison.Ordinal) ? "this key" : $"tenant '{key.Tenant}'";
            var period = result.FailedLimit == QuotaLimit.DailyTokens ? "daily" : "monthly";
            return new AdmissionDecision(QuotaRejection.StoreUnavailable, result.FailedLimit,
                $"the limits store is unavailable, so the {period} token budget of {budgeted} cannot be checked; retry shortly",
                StoreRetryAfter, RateLimitHeaders.None, null);
        }

        var headers = Headers(scopes, result, nowMs, reservedTokens);
        if (result.Admitted)
        {
            var release = new QuotaReleaseRequest(id, scopes, reservedTokens, reservedTokens, day, month);
            return new AdmissionDecision(QuotaRejection.None, QuotaLimit.None, string.Empty, null, headers,
                new Reservation(id, reservedTokens, _store, release));
        }

        var scope = scopes[result.FailedScope];
        var usage = result.Usage[result.FailedScope];
        var whose = scope.Id.StartsWith("k:", StringComparison.Ordinal) ? "this key" : $"tenant '{key.Tenant}'";
        var limits = result.LocalLimits?[result.FailedScope] ?? scope.Limits;
        if (result.LocalLimits is not null)
        {
            whose += "'s share on this replica while the limits store is unavailable";
        }

        var (kind, message, retry) = result.FailedLimit switch
        {
            QuotaLimit.RequestsPerMinute => (QuotaRejection.RateLimit,
                $"requests per minute limit ({limits.RequestsPerMinute}) reached for {whose}", RetryMs(result.RetryAfterMs)),
            QuotaLimit.TokensPerMinute when reservedTokens > limits.TokensPerMinute => (QuotaRejection.RateLimit,
                $"request needs {reservedTokens} tokens (prompt + max_tokens), more than the tokens per minute limit ({limits.TokensPerMinute}) for {whose}; lower max_tokens or shorten the prompt",
                (TimeSpan?)null),
            QuotaLimit.TokensPerMinute => (QuotaRejection.RateLimit,
                $"tokens per minute limit ({limits.TokensPerMinute}) reached for {whose}: {usage.Tokens} used in the last minute, {reservedTokens} requested",
                RetryMs(result.RetryAfterMs)),
            QuotaLimit.ConcurrentRequests => (QuotaRejection.Concurrency,
                $"concurrent requests limit ({limits.ConcurrentRequests}) reached for {whose}", Whole(_options.ConcurrencyRetryAfter)),
            QuotaLimit.DailyTokens => (QuotaRejection.Quota,
                reservedTokens > limits.DailyTokens
                    ? $"request needs {reservedTokens} tokens, more than the daily token budget ({limits.DailyTokens}) of {whose}"
                    : $"daily token budget ({limits.DailyTokens}) exhausted for {whose}: {usage.DayTokens} used today (UTC), {reservedTokens} requested",
                reservedTokens > limits.DailyTokens ? null : Whole(now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime)),
            QuotaLimit.MonthlyTokens => (QuotaRejection.Quota,
                reservedTokens > limits.MonthlyTokens
                    ? $"request needs {reservedTokens} tokens, more than the monthly token budget ({limits.MonthlyTokens}) of {whose}"
                    : $"monthly token budget ({limits.MonthlyTokens}) exhausted for {whose}: {usage.MonthTokens} used this month (UTC), {reservedTokens} requested",
                reservedTokens > limits.MonthlyTokens ? null : Whole(NextMonth(now.UtcDateTime) - now.UtcDateTime)),
            _ => throw new InvalidOperationException($"Quota store refused with unknown limit {result.FailedLimit}."),
        };
        return new AdmissionDecision(kind, result.FailedLimit, message, retry, headers, null);
    }

    private static DateTime NextMonth(DateTime utc) => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);

    private static TimeSpan? RetryMs(long ms) => ms < 0 ? Whole(TimeSpan.FromMilliseconds(WindowMs)) : Whole(TimeSpan.FromMilliseconds(ms));

    // Retry-After is whole seconds on the wire: round up, and never 0 (a client would retry at once).
    private static TimeSpan Whole(TimeSpan t) => TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(t.TotalSeconds)));

    private static RateLimitHeaders Headers(List<QuotaScope> scopes, QuotaAdmitResult result, long nowMs, long tokens)
    {
        long? limitRequests = null, remainingRequests = null, limitTokens = null, remainingTokens = null;
        TimeSpan? resetRequests = null, resetTokens = null;
        for (var i = 0; i < scopes.Count; i++)
        {
            var limits = result.LocalLimits?[i] ?? scopes[i].Limits;
            var usage = result.Usage[i];
            var requestsAfter = usage.Requests + (result.Admitted ? 1 : 0);
            var tokensAfter = usage.Tokens + (result.Admitted ? tokens : 0);
            var oldest = usage.OldestMs >= 0 ? usage.OldestMs : result.Admitted ? nowMs : -1;
            var reset = oldest < 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Max(0, oldest + WindowMs - nowMs));
            if (limits.RequestsPerMinute is { } rpm)
            {
                var remaining = Math.Max(0, rpm - requestsAfter);
                if (remainingRequests is null || remaining < remainingRequests)
                {
                    (limitRequests, remainingRequests, resetRequests) = (rpm, remaining, reset);
                }
            }

            if (limits.TokensPerMinute is { } tpm)
            {
                var remaining = Math.Max(0, tpm - tokensAfter);
                if (remainingTokens is null || remaining < remainingTokens)
                {
                    (limitTokens, remainingTokens, resetTokens) = (tpm, remaining, reset);
                }
            }
        }

        return new RateLimitHeaders(limitRequests, remainingRequests, resetRequests, limitTokens, remainingTokens, resetTokens);
    }
}

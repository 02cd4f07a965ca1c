using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Data.Common;
using System.Globalization;
using Dapper;
using Inference.Gateway.Keys;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Organizations;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Keys;

/// <summary>
/// The gateway's view of the platform: keys, and each organization's plan, overrides and budget, as an in-memory
/// snapshot reloaded every <see cref="Hosting.PlatformOptions.RefreshInterval"/> (and at once after a change made
/// through this replica). A request never waits on the database: while it is down the last snapshot serves, and
/// a revoked key or a plan change shows on every replica within one interval.
/// </summary>
/// <remarks>
/// Monthly token caps (a plan without overage, a budget's hard stop, an override) are enforced by the gateway's quota
/// counters, which reserve prompt + max_tokens before a request runs, so concurrent requests cannot overshoot. Those
/// counters start at zero in a new process; the ledger's total for the month when this process first sees the cap (the
/// baseline) is taken off it, so usage before a restart still counts. A cap set mid-month also subtracts what this
/// process already counted, once more: the error is on the safe side (an early stop), never an overshoot.
/// </remarks>
public sealed partial class PlatformKeyStore : IKeyStore, ILimitsSource, IDisposable
{
    private readonly PlatformDatabase _database;
    private readonly TimeProvider _time;
    private readonly ILogger<PlatformKeyStore> _logger;
    private readonly ConcurrentDictionary<string, long> _lastUsed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Org, string Period), long> _baselines = new();
    private readonly SemaphoreSlim _refreshGate = new(1, 1); // one reload at a time: an older load never replaces a newer one
    private volatile Snapshot _snapshot = Snapshot.Empty;
    private int _failures;

    public PlatformKeyStore(PlatformDatabase database, TimeProvider time, ILogger<PlatformKeyStore> logger)
    {
        _database = database;
        _time = time;
        _logger = logger;
    }

    /// <summary>Keys in the snapshot; the gateway requires keys regardless (the platform never runs open).</summary>
    public int Count => _snapshot.Keys.Count;

    public ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct)
    {
        Snapshot snapshot = _snapshot;
        // Lookup by the SHA-256 of the presented key: the key itself is never kept or compared.
        if (!snapshot.Keys.TryGetValue(KeyHash.Sha256Hex(presentedKey), out ApiKey? key) || !key.IsUsableAt(_time.GetUtcNow()))
        {
            return ValueTask.FromResult<ApiKey?>(null);
        }

        _lastUsed[key.KeyId] = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return ValueTask.FromResult<ApiKey?>(key);
    }

    public ValueTask<EffectiveLimits> ResolveAsync(ApiKey key, CancellationToken ct)
    {
        Snapshot snapshot = _snapshot;
        if (!snapshot.Orgs.TryGetValue(key.Tenant, out OrgView? org))
        {
            // The key's organization vanished between snapshots: nothing may run on it.
            return ValueTask.FromResult(new EffectiveLimits(key.Limits ?? Limits.Unlimited, new Limits(MonthlyTokens: 0), Plans.Free.Priority));
        }

        Limits tenant = org.Plan.Limits.Merge(org.Overrides);
        if (MonthlyCap(org) is { } cap)
        {
            // Taken at the reload that first saw the cap this month (0 for an organization that appeared since).
            long baseline = _baselines.GetValueOrDefault((org.Id, snapshot.Period));
            tenant = tenant with { MonthlyTokens = Math.Max(0, cap - baseline) };
        }

        return ValueTask.FromResult(new EffectiveLimits(key.Limits ?? Limits.Unlimited, tenant, org.Plan.Priority));
    }

    /// <summary>
    /// The most billable tokens the organization may use this month, or null for no cap: the plan's included tokens
    /// when it has no overage, tokens the budget buys when it has a hard stop, and a monthly_tokens override.
    /// </summary>
    public static long? MonthlyCap(OrgView org)
    {
        long? cap = org.Overrides?.MonthlyTokens;
        if (org.Plan.OveragePer1kTokensKrw == 0)
        {
            cap = Min(cap, org.Plan.IncludedTokens);
        }

        if (org.BudgetHardStop && org.BudgetKrw is { } budget)
        {
            long tokens = budget < org.Plan.MonthlyFeeKrw ? 0
                : org.Plan.OveragePer1kTokensKrw == 0 ? org.Plan.IncludedTokens
                : org.Plan.IncludedTokens + (long)decimal.Floor((budget - org.Plan.MonthlyFeeKrw) * 1000m / org.Plan.OveragePer1kTokensKrw);
            cap = Min(cap, tokens);
        }

        return cap;

        static long? Min(long? a, long b) => a is { } x ? Math.Min(x, b) : b;
    }

    /// <summary>Reloads the snapshot and writes last-used times; on a database failure keeps the old snapshot and returns false.</summary>
    public async Task<bool> RefreshAsync(CancellationToken ct)
    {
        await _refreshGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await LoadAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task<bool> LoadAsync(CancellationToken ct)
    {
        try
        {
            DateTimeOffset now = _time.GetUtcNow();
            string period = UsageLedger.PeriodOf(now);
            await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
            var orgRows = await connection.QueryAsync<OrganizationService.OrgRow>("SELECT * FROM organizations WHERE deleted_ms IS NULL").ConfigureAwait(false);
            var orgs = new Dictionary<string, OrgView>(StringComparer.Ordinal);
            foreach (var row in orgRows)
            {
                Plan plan = Plans.Find(row.Plan) ?? Plans.Free;
                orgs[row.Id] = new OrgView(row.Id, plan, LimitsJson.Deserialize(row.Overrides), row.BudgetKrw, row.BudgetHardStop != 0);
            }

            var keys = new Dictionary<string, ApiKey>(StringComparer.Ordinal);
            var keyRows = await connection.QueryAsync<KeyService.KeyRow>("SELECT * FROM api_keys WHERE revoked_ms IS NULL").ConfigureAwait(false);
            foreach (var row in keyRows)
            {
                Tier tier = orgs.TryGetValue(row.OrgId, out OrgView? org) ? org.Plan.Tier : Tier.Free;
                keys[row.KeyHash] = new ApiKey(row.KeyId, row.Prefix, row.OrgId, tier, LimitsJson.Deserialize(row.Limits), row.Name, false,
                    row.ExpiresMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null, row.Kind == "app" ? row.AppId : null);
            }

            // The month's ledger totals only for capped organizations without a baseline yet (the first reload of a month,
            // a new cap): a steady reload reads keys and organizations only.
            var needBaseline = orgs.Values.Where(o => MonthlyCap(o) is not null && !_baselines.ContainsKey((o.Id, period))).Select(o => o.Id).ToList();
            if (needBaseline.Count > 0)
            {
                var month = (await connection.QueryAsync<(string OrgId, long Tokens)>(
                    $"SELECT org_id, SUM(prompt_tokens + completion_tokens) FROM usage_records WHERE period = @period AND {UsageLedger.BillableCondition} GROUP BY org_id",
                    new { period }).ConfigureAwait(false)).ToDictionary(r => r.OrgId, r => r.Tokens, StringComparer.Ordinal);
                foreach (string id in needBaseline)
                {
                    _baselines.TryAdd((id, period), month.GetValueOrDefault(id));
                }
            }

            _snapshot = new Snapshot(keys.ToFrozenDictionary(StringComparer.Ordinal), orgs.ToFrozenDictionary(StringComparer.Ordinal), period);

            foreach (var (keyId, ms) in _lastUsed)
            {
                await connection.ExecuteAsync("UPDATE api_keys SET last_used_ms = @ms WHERE key_id = @keyId AND (last_used_ms IS NULL OR last_used_ms < @ms)", new { ms, keyId }).ConfigureAwait(false);
                _lastUsed.TryRemove(new KeyValuePair<string, long>(keyId, ms));
            }

            if (Interlocked.Exchange(ref _failures, 0) > 0)
            {
                LogRecovered(_logger, _database.Description);
            }

            return true;
        }
        catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            if (Interlocked.Increment(ref _failures) == 1)
            {
                LogRefreshFailed(_logger, _database.Description, ex.Message);
            }

            return false;
        }
    }

    public void Dispose() => _refreshGate.Dispose();

    /// <summary>An organization as the gateway needs it.</summary>
    public sealed record OrgView(string Id, Plan Plan, Limits? Overrides, long? BudgetKrw, bool BudgetHardStop);

    private sealed record Snapshot(
        FrozenDictionary<string, ApiKey> Keys, FrozenDictionary<string, OrgView> Orgs, string Period)
    {
        public static Snapshot Empty { get; } = new(FrozenDictionary<string, ApiKey>.Empty, FrozenDictionary<string, OrgView>.Empty, "");
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Cannot reload keys and plans from {Database}: {Reason}; serving the last snapshot until it is back")]
    private static partial void LogRefreshFailed(ILogger logger, string database, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Keys and plans reload again from {Database}")]
    private static partial void LogRecovered(ILogger logger, string database);
}

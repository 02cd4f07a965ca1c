using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Inference.Gateway.Metering;
using Inference.Platform.Data;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Billing;

/// <summary>
/// The usage ledger, fed by the gateway's usage records (one per finished request). A record is durable before
/// <see cref="WriteAsync"/> returns: inserted in the database (idempotent by request id: a record delivered twice
/// counts once), or, while the database is unreachable, appended to a spool file under the data folder and synced
/// to disk. <see cref="DeliverSpoolAsync"/> (run by <see cref="LedgerDeliveryService"/>) moves spooled records
/// into the database once it is back; a crash between the two only causes a re-delivery, which counts once.
/// </summary>
public sealed partial class UsageLedger : IUsageSink, IDisposable
{
    /// <summary>SQL condition for records that are billed: completed or cancelled work, not served from the response cache.</summary>
    public const string BillableCondition = "status IN ('completed', 'cancelled') AND response_cache_hit = 0";

    private const string InsertSql = """
        INSERT INTO usage_records (request_id, org_id, key_id, period, model, api, status, finish_reason, prompt_tokens, completion_tokens, cached_tokens, response_cache_hit, duration_ms, ttft_ms, ts_ms)
        VALUES (@RequestId, @OrgId, @KeyId, @Period, @Model, @Api, @Status, @FinishReason, @PromptTokens, @CompletionTokens, @CachedTokens, @ResponseCacheHit, @DurationMs, @TtftMs, @TsMs)
        ON CONFLICT (request_id) DO NOTHING
        """;

    private static readonly JsonSerializerOptions SpoolJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly PlatformDatabase _database;
    private readonly TimeProvider _time;
    private readonly ILogger<UsageLedger> _logger;
    private readonly string _spoolPath;
    private readonly SemaphoreSlim _spoolGate = new(1, 1);
    private readonly TimeSpan _retryAfter;
    private long _downUntil; // timestamp before which writes go straight to the spool (the database just failed)

    public UsageLedger(PlatformDatabase database, string spoolFolder, TimeProvider time, ILogger<UsageLedger> logger, TimeSpan? retryAfter = null)
    {
        _database = database;
        _time = time;
        _logger = logger;
        Directory.CreateDirectory(spoolFolder);
        _spoolPath = Path.Combine(spoolFolder, "usage-spool.jsonl");
        _retryAfter = retryAfter ?? TimeSpan.FromSeconds(2);
    }

    /// <summary>Raised when a record went to the spool (the delivery service wakes up).</summary>
    public event Action? Spooled;

    /// <summary>Records waiting in the spool file.</summary>
    public int SpooledCount
    {
        get
        {
            _spoolGate.Wait();
            try
            {
                return File.Exists(_spoolPath) ? File.ReadLines(_spoolPath).Count(l => l.Length > 0) : 0;
            }
            finally
            {
                _spoolGate.Release();
            }
        }
    }

    /// <summary>The billing period ("yyyy-MM", UTC) of an instant.</summary>
    public static string PeriodOf(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    public async ValueTask WriteAsync(UsageRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        LedgerRow row = LedgerRow.From(record);
        if (_time.GetTimestamp() >= Interlocked.Read(ref _downUntil))
        {
            try
            {
                await using DbConnection connection = await _database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
                await connection.ExecuteAsync(InsertSql, row).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is DbException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                // Down (or failing): spool this and the next records for a while instead of waiting on connect timeouts.
                Interlocked.Exchange(ref _downUntil, _time.GetTimestamp() + (long)(_retryAfter.TotalSeconds * _time.TimestampFrequency));
                LogSpooling(_logger, _database.Description, ex.Message);
            }
        }

        await AppendToSpoolAsync(row).ConfigureAwait(false);
        Spooled?.Invoke();
    }

    /// <summary>
    /// Moves spooled records into the database in one transaction, then empties the spool. Returns how many were
    /// delivered; throws when the database is still unreachable (the spool stays as it was).
    /// </summary>
    public async Task<int> DeliverSpoolAsync(CancellationToken ct)
    {
        await _spoolGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!File.Exists(_spoolPath))
            {
                return 0;
            }

            var rows = new List<LedgerRow>();
            foreach (string line in await File.ReadAllLinesAsync(_spoolPath, ct).ConfigureAwait(false))
            {
                if (line.Length == 0)
                {
                    continue;
                }

                try
                {
                    rows.Add(JsonSerializer.Deserialize<LedgerRow>(line, SpoolJson)!);
                }
                catch (JsonException)
                {
                    // Only a torn last line (a crash mid-append, never acknowledged) can be unreadable.
                    LogTornLine(_logger, _spoolPath);
                }
            }

            if (rows.Count > 0)
            {
                await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
                await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
                await connection.ExecuteAsync(InsertSql, rows, tx).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
            }

            File.Delete(_spoolPath);
            Interlocked.Exchange(ref _downUntil, 0);
            if (rows.Count > 0)
            {
                LogDelivered(_logger, rows.Count, _database.Description);
            }

            return rows.Count;
        }
        finally
        {
            _spoolGate.Release();
        }
    }

    /// <summary>Billable tokens per organization in a period.</summary>
    public async Task<IReadOnlyDictionary<string, long>> TokensByOrgAsync(string period, CancellationToken ct)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<(string OrgId, long Tokens)>(
            $"SELECT org_id, SUM(prompt_tokens + completion_tokens) FROM usage_records WHERE period = @period AND {BillableCondition} GROUP BY org_id", new { period }).ConfigureAwait(false))
            .ToDictionary(r => r.OrgId, r => r.Tokens, StringComparer.Ordinal);
    }

    /// <summary>The organization's usage per UTC day between two instants (only the keys of <paramref name="appId"/> when given).</summary>
    public async Task<IReadOnlyList<UsageDay>> DailyAsync(string orgId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct, string? appId = null)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        // Aggregated in the database: a UTC day is ts_ms / 86,400,000 (integer division in both engines).
        var rows = await connection.QueryAsync<DayRow>(
            $"""
            SELECT ts_ms / 86400000 AS day_number, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
                   SUM(cached_tokens) AS cached_tokens, SUM(CASE WHEN {BillableCondition} THEN prompt_tokens + completion_tokens ELSE 0 END) AS billable_tokens
            FROM usage_records
            WHERE org_id = @orgId AND ts_ms >= @from AND ts_ms < @to
              AND (@appId IS NULL OR key_id IN (SELECT key_id FROM api_keys WHERE org_id = @orgId AND app_id = @appId))
            GROUP BY ts_ms / 86400000
            ORDER BY day_number
            """,
            new { orgId, from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds(), appId }).ConfigureAwait(false);
        return rows.Select(r => new UsageDay(DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + (int)r.DayNumber),
            r.Requests, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.BillableTokens)).ToList();
    }

    /// <summary>
    /// Time-to-first-token and latency percentiles per UTC day (nearest rank), of the organization's requests or only
    /// those of <paramref name="appId"/>'s keys. Reads one row per request: meant for the dashboard's 30-day view.
    /// </summary>
    public async Task<IReadOnlyList<LatencyDay>> LatencyAsync(string orgId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct, string? appId = null)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(long TsMs, long DurationMs, long? TtftMs)>(
            """
            SELECT ts_ms, duration_ms, ttft_ms FROM usage_records
            WHERE org_id = @orgId AND ts_ms >= @from AND ts_ms < @to
              AND (@appId IS NULL OR key_id IN (SELECT key_id FROM api_keys WHERE org_id = @orgId AND app_id = @appId))
            """,
            new { orgId, from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds(), appId }).ConfigureAwait(false);
        return rows.GroupBy(r => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(r.TsMs).UtcDateTime))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                double[] durations = g.Select(r => (double)r.DurationMs).Order().ToArray();
                double[] ttfts = g.Where(r => r.TtftMs is not null).Select(r => (double)r.TtftMs!.Value).Order().ToArray();
                return new LatencyDay(g.Key, durations.Length, Rank(ttfts, 0.50), Rank(ttfts, 0.95), Rank(durations, 0.50)!.Value, Rank(durations, 0.95)!.Value);
            }).ToList();

        static double? Rank(double[] sorted, double q) => sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Billable tokens in a period of the organizations that have a budget (what the budget monitor checks).</summary>
    public async Task<IReadOnlyDictionary<string, long>> BudgetedTokensAsync(string period, CancellationToken ct)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<(string OrgId, long Tokens)>(
            $"SELECT org_id, SUM(prompt_tokens + completion_tokens) FROM usage_records WHERE period = @period AND {BillableCondition} AND org_id IN (SELECT id FROM organizations WHERE budget_krw IS NOT NULL AND deleted_ms IS NULL) GROUP BY org_id",
            new { period }).ConfigureAwait(false)).ToDictionary(r => r.OrgId, r => r.Tokens, StringComparer.Ordinal);
    }

    public void Dispose() => _spoolGate.Dispose();

    private async Task AppendToSpoolAsync(LedgerRow row)
    {
        byte[] line = JsonSerializer.SerializeToUtf8Bytes(row, SpoolJson);
        await _spoolGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await using var file = new FileStream(_spoolPath, FileMode.Append, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
            await file.WriteAsync(line).ConfigureAwait(false);
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true); // fsync: the record is on disk before the request is acknowledged
        }
        finally
        {
            _spoolGate.Release();
        }
    }

    /// <summary>One ledger row (also the spool file's JSON line).</summary>
    internal sealed class LedgerRow
    {
        public string RequestId { get; set; } = "";
        public string OrgId { get; set; } = "";
        public string? KeyId { get; set; }
        public string Period { get; set; } = "";
        public string Model { get; set; } = "";
        public string Api { get; set; } = "";
        public string Status { get; set; } = "";
        public string? FinishReason { get; set; }
        public long PromptTokens { get; set; }
        public long CompletionTokens { get; set; }
        public long CachedTokens { get; set; }
        public long ResponseCacheHit { get; set; }
        public long DurationMs { get; set; }
        public long? TtftMs { get; set; }
        public long TsMs { get; set; }

        public static LedgerRow From(UsageRecord r) => new()
        {
            RequestId = r.RequestId,
            OrgId = r.Tenant,
            KeyId = r.KeyId,
            Period = PeriodOf(r.Timestamp),
            Model = r.Model,
            Api = r.Api,
            Status = UsageJson.StatusName(r.Status),
            FinishReason = r.FinishReason,
            PromptTokens = r.PromptTokens,
            CompletionTokens = r.CompletionTokens,
            CachedTokens = r.CachedTokens,
            ResponseCacheHit = r.ResponseCacheHit ? 1 : 0,
            DurationMs = (long)r.Duration.TotalMilliseconds,
            TtftMs = r.TimeToFirstToken is { } t ? (long)t.TotalMilliseconds : null,
            TsMs = r.Timestamp.ToUnixTimeMilliseconds(),
        };
    }

    private sealed class DayRow
    {
        public long DayNumber { get; set; }
        public long Requests { get; set; }
        public long PromptTokens { get; set; }
        public long CompletionTokens { get; set; }
        public long CachedTokens { get; set; }
        public long BillableTokens { get; set; }
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Usage ledger {Database} unavailable ({Reason}): spooling records to disk until it is back")]
    private static partial void LogSpooling(ILogger logger, string database, string reason);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Delivered {Count} spooled usage records to {Database}")]
    private static partial void LogDelivered(ILogger logger, int count, string database);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "Skipped a torn line in {Path} (written by a crash before it was acknowledged)")]
    private static partial void LogTornLine(ILogger logger, string path);
}

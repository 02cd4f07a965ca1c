using System.Data.Common;
using Dapper;
using Inference.Platform.Data;

namespace Inference.Platform.Audit;

/// <summary>
/// Append-only audit log of security events. There is no update or delete path: rows are only inserted, in the
/// same transaction as the change they record when there is one.
/// </summary>
public sealed class AuditLog(PlatformDatabase database, TimeProvider time)
{
    /// <summary>Appends an event (inside <paramref name="tx"/> when given, so it commits with the change).</summary>
    public async Task WriteAsync(string action, string? orgId, string? userId, string? target = null, string? detail = null, string? ip = null,
        DbConnection? connection = null, DbTransaction? tx = null)
    {
        DateTimeOffset now = time.GetUtcNow();
        const string Sql = "INSERT INTO audit_events (id, org_id, user_id, action, target, detail, ip, created_ms) VALUES (@id, @orgId, @userId, @action, @target, @detail, @ip, @now)";
        var args = new { id = Ids.New("evt", now), orgId, userId, action, target, detail, ip, now = now.ToUnixTimeMilliseconds() };
        if (connection is not null)
        {
            await connection.ExecuteAsync(Sql, args, tx).ConfigureAwait(false);
            return;
        }

        await using DbConnection own = await database.OpenAsync().ConfigureAwait(false);
        await own.ExecuteAsync(Sql, args).ConfigureAwait(false);
    }

    /// <summary>
    /// The organization's events, newest first: its own, and the account events (sign-ins, failed sign-ins, lockouts,
    /// 2FA changes, password resets) of its current members.
    /// </summary>
    public Task<IReadOnlyList<AuditEvent>> ListAsync(string orgId, int limit, string? before, CancellationToken ct) => QueryAsync(
        "(org_id = @key OR (org_id IS NULL AND user_id IN (SELECT user_id FROM memberships WHERE org_id = @key)))", orgId, limit, before, ct);

    /// <summary>A user's own account events, newest first.</summary>
    public Task<IReadOnlyList<AuditEvent>> ListForUserAsync(string userId, int limit, string? before, CancellationToken ct) => QueryAsync(
        "(org_id IS NULL AND user_id = @key)", userId, limit, before, ct);

    private async Task<IReadOnlyList<AuditEvent>> QueryAsync(string condition, string key, int limit, string? before, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(
            $"SELECT id, org_id, user_id, action, target, detail, ip, created_ms FROM audit_events WHERE {condition} AND (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit",
            new { key, before, limit = (long)limit }).ConfigureAwait(false);
        return rows.Select(r => new AuditEvent(r.Id, r.OrgId, r.UserId, r.Action, r.Target, r.Detail, r.Ip, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedMs))).ToList();
    }

    private sealed class Row
    {
        public string Id { get; set; } = "";
        public string? OrgId { get; set; }
        public string? UserId { get; set; }
        public string Action { get; set; } = "";
        public string? Target { get; set; }
        public string? Detail { get; set; }
        public string? Ip { get; set; }
        public long CreatedMs { get; set; }
    }
}

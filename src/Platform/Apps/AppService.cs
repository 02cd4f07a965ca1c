using System.Data.Common;
using Dapper;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;

namespace Inference.Platform.Apps;

/// <summary>
/// An organization's apps: keys can be scoped to one (their usage is then counted per app, and archiving the app
/// revokes them). The builder and hosted apps (templates, releases, pages) build on these records.
/// </summary>
public sealed partial class AppService(PlatformDatabase database, AuditLog audit, TimeProvider time)
{
    /// <summary>Raised after an app's keys were revoked, so this replica's gateway view reloads.</summary>
    public event Action? Changed;

    public async Task<App> CreateAsync(User actor, string orgId, string? name, string? ip, CancellationToken ct)
    {
        string trimmed = (name ?? string.Empty).Trim();
        if (trimmed.Length is 0 or > 100)
        {
            throw PlatformException.Invalid("name", "name must have 1 to 100 characters.");
        }

        DateTimeOffset now = time.GetUtcNow();
        var app = new App(Ids.New("app", now), orgId, trimmed, actor.Id, now, null);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO apps (id, org_id, name, created_by, created_ms) VALUES (@Id, @OrgId, @Name, @CreatedBy, @now)",
            new { app.Id, app.OrgId, app.Name, app.CreatedBy, now = now.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.AppCreated, orgId, actor.Id, app.Id, trimmed, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return app;
    }

    public async Task<IReadOnlyList<App>> ListAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<AppRow>("SELECT * FROM apps WHERE org_id = @orgId ORDER BY id", new { orgId }).ConfigureAwait(false)).Select(r => r.ToApp()).ToList();
    }

    /// <summary>The app; 404 when it is not this organization's.</summary>
    public async Task<App> GetAsync(string orgId, string appId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        AppRow row = await connection.QuerySingleOrDefaultAsync<AppRow>("SELECT * FROM apps WHERE org_id = @orgId AND id = @appId", new { orgId, appId }).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The app");
        return row.ToApp();
    }

    /// <summary>Archives the app and revokes its keys (refused by the gateway within the refresh interval).</summary>
    public async Task<App> ArchiveAsync(User actor, string orgId, string appId, string? ip, CancellationToken ct)
    {
        App app = await GetAsync(orgId, appId, ct).ConfigureAwait(false);
        if (app.ArchivedAt is null)
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync("UPDATE apps SET archived_ms = @now WHERE id = @appId AND org_id = @orgId", new { now, appId, orgId }, tx).ConfigureAwait(false);
            int revoked = await connection.ExecuteAsync("UPDATE api_keys SET revoked_ms = @now WHERE app_id = @appId AND org_id = @orgId AND revoked_ms IS NULL", new { now, appId, orgId }, tx).ConfigureAwait(false);
            await audit.WriteAsync(AuditAction.AppArchived, orgId, actor.Id, appId, $"{app.Name}; {revoked} key(s) revoked", ip, connection, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            Changed?.Invoke();
        }

        return await GetAsync(orgId, appId, ct).ConfigureAwait(false);
    }

    private class AppRow
    {
        public string Id { get; set; } = "";
        public string OrgId { get; set; } = "";
        public string Name { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public long CreatedMs { get; set; }
        public long? ArchivedMs { get; set; }

        public App ToApp() => new(Id, OrgId, Name, CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs), ArchivedMs is { } a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null);
    }
}

using System.Data.Common;
using System.Text.Json;
using Dapper;
using Inference.Gateway.Keys;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Inference.Platform.Organizations;

namespace Inference.Platform.Apps;

/// <summary>The builder: drafts, immutable releases, publish / roll back / unpublish, the publishable key and its access.</summary>
public sealed partial class AppService
{
    /// <summary>Limits of a new app's publishable key: enough for a class, small enough that a leaked page cannot run up a bill.</summary>
    public static AppAccess DefaultAccess { get; } = new([], RequestsPerMinute: 30, MonthlyTokens: 1_000_000);

    private static readonly JsonSerializerOptions SpecJson = PlatformJson.Options;

    // An app with its publishable key's id and limits (at most one active app key per app: a unique index).
    private const string DesignSelect =
        "SELECT a.*, k.limits AS key_limits, k.key_id AS public_key_id FROM apps a LEFT JOIN api_keys k ON k.app_id = a.id AND k.kind = 'app' AND k.revoked_ms IS NULL WHERE ";

    /// <summary>Creates an app from a ready template (its draft is the template) with a unique slug.</summary>
    public async Task<AppDesign> CreateFromTemplateAsync(User actor, string orgId, string? name, string? templateId, string? ip, CancellationToken ct)
    {
        AppSpec template = AppTemplates.Find(templateId) ?? throw PlatformException.Invalid("template", $"'{templateId}' is not a template; use one of {string.Join(", ", AppTemplates.All.Select(t => t.Template))}.");
        App app = await CreateAsync(actor, orgId, name, ip, ct).ConfigureAwait(false);
        AppSpec draft = template with { Title = app.Name };
        string baseSlug = AppPrompt.SlugOf(app.Name);
        if (baseSlug.Length == 0)
        {
            baseSlug = "app";
        }

        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        for (int n = 1; ; n++)
        {
            // "app" alone, or a name taken already: a numbered one (the index makes a race lose, then the next number wins).
            string slug = n == 1 && baseSlug != "app" ? baseSlug : $"{baseSlug}-{(n == 1 ? app.Id[^6..].ToLowerInvariant() : n.ToString(System.Globalization.CultureInfo.InvariantCulture))}";
            bool taken = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM apps WHERE slug = @slug", new { slug }).ConfigureAwait(false) > 0;
            if (taken)
            {
                continue;
            }

            try
            {
                await connection.ExecuteAsync("UPDATE apps SET slug = @slug, draft = @draft, allowed_origins = @origins WHERE id = @id",
                    new { slug, draft = JsonSerializer.Serialize(draft, SpecJson), origins = "[]", id = app.Id }).ConfigureAwait(false);
                break;
            }
            catch (DbException) when (n < 20)
            {
                // another app took the slug between the check and the update
            }
        }

        return await DesignAsync(orgId, app.Id, ct).ConfigureAwait(false);
    }

    /// <summary>The app as the builder edits it; 404 when it is not this organization's.</summary>
    public async Task<AppDesign> DesignAsync(string orgId, string appId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        DesignRow row = await connection.QuerySingleOrDefaultAsync<DesignRow>(
            DesignSelect + "a.org_id = @orgId AND a.id = @appId",
            new { orgId, appId }).ConfigureAwait(false) ?? throw PlatformException.NotFound("The app");
        return row.ToDesign();
    }

    /// <summary>The organization's apps with their slugs and published versions (newest first).</summary>
    public async Task<IReadOnlyList<AppDesign>> DesignsAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DesignRow>(
            DesignSelect + "a.org_id = @orgId AND a.archived_ms IS NULL AND a.slug IS NOT NULL ORDER BY a.id DESC",
            new { orgId }).ConfigureAwait(false);
        return rows.Select(r => r.ToDesign()).ToList();
    }

    /// <summary>Saves the draft after checking it; what is published does not change.</summary>
    public async Task<AppDesign> SaveDraftAsync(string orgId, string appId, AppSpec draft, CancellationToken ct)
    {
        AppPrompt.Validate(draft);
        AppDesign design = await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        Live(design);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE apps SET draft = @draft, name = @name WHERE id = @appId AND org_id = @orgId",
            new { draft = JsonSerializer.Serialize(draft, SpecJson), name = draft.Title, appId, orgId }).ConfigureAwait(false);
        return await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
    }

    /// <summary>Freezes the draft as the next release and serves it; creates the publishable key on the first publish.</summary>
    public async Task<AppRelease> PublishAsync(User actor, string orgId, string appId, string? ip, CancellationToken ct)
    {
        AppDesign design = await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        Live(design);
        AppPrompt.Validate(design.Draft);
        await EnsureKeyAsync(actor, design, ct).ConfigureAwait(false);
        DateTimeOffset now = time.GetUtcNow();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
                await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
                // The app row's write lock first: concurrent publishes of one app take their numbers one after another.
                await connection.ExecuteAsync("UPDATE apps SET published_version = published_version WHERE id = @appId", new { appId }, tx).ConfigureAwait(false);
                int version = (int)await connection.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(version), 0) + 1 FROM app_releases WHERE app_id = @appId", new { appId }, tx).ConfigureAwait(false);
                await connection.ExecuteAsync("INSERT INTO app_releases (app_id, version, spec, created_by, created_ms) VALUES (@appId, @version, @spec, @by, @now)",
                    new { appId, version, spec = JsonSerializer.Serialize(design.Draft, SpecJson), by = actor.Id, now = now.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
                await connection.ExecuteAsync("UPDATE apps SET published_version = @version WHERE id = @appId", new { version, appId }, tx).ConfigureAwait(false);
                await audit.WriteAsync(AuditAction.AppPublished, orgId, actor.Id, appId, $"{design.Slug} v{version}", ip, connection, tx).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
                return new AppRelease(appId, version, design.Draft, actor.Id, now);
            }
            catch (DbException) when (attempt < 5 && !ct.IsCancellationRequested)
            {
                // A busy SQLite writer past its timeout, or (without the lock above) a lost race on the primary key:
                // the next attempt takes the next number.
            }
        }
    }

    /// <summary>Serves an earlier release again (the releases themselves never change).</summary>
    public async Task RollBackAsync(User actor, string orgId, string appId, int version, string? ip, CancellationToken ct)
    {
        AppDesign design = await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        Live(design);
        _ = await ReleaseAsync(appId, version, ct).ConfigureAwait(false) ?? throw PlatformException.Invalid("version", $"The app has no release {version}.");
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE apps SET published_version = @version WHERE id = @appId", new { version, appId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.AppRolledBack, orgId, actor.Id, appId, $"{design.Slug} v{version}", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Stops serving the app: its page and run endpoint answer 404 until it is published again.</summary>
    public async Task UnpublishAsync(User actor, string orgId, string appId, string? ip, CancellationToken ct)
    {
        AppDesign design = await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE apps SET published_version = NULL WHERE id = @appId", new { appId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.AppUnpublished, orgId, actor.Id, appId, design.Slug, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The app's releases, newest first.</summary>
    public async Task<IReadOnlyList<AppRelease>> ReleasesAsync(string orgId, string appId, CancellationToken ct)
    {
        _ = await GetAsync(orgId, appId, ct).ConfigureAwait(false);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ReleaseRow>("SELECT * FROM app_releases WHERE app_id = @appId ORDER BY version DESC", new { appId }).ConfigureAwait(false);
        return rows.Select(r => r.ToRelease()).ToList();
    }

    /// <summary>One release of the app, or null.</summary>
    public async Task<AppRelease?> ReleaseAsync(string appId, int version, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        ReleaseRow? row = await connection.QuerySingleOrDefaultAsync<ReleaseRow>("SELECT * FROM app_releases WHERE app_id = @appId AND version = @version", new { appId, version }).ConfigureAwait(false);
        return row?.ToRelease();
    }

    /// <summary>
    /// The published app at <paramref name="slug"/>: its served release, or the given <paramref name="version"/>
    /// (a static export pins its own); null when there is no such app, it is unpublished or archived.
    /// </summary>
    public async Task<HostedApp?> FindHostedAsync(string slug, int? version, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        DesignRow? row = await connection.QuerySingleOrDefaultAsync<DesignRow>(
            DesignSelect + "a.slug = @slug AND a.archived_ms IS NULL AND a.published_version IS NOT NULL",
            new { slug }).ConfigureAwait(false);
        if (row is null || row.PublicKey is null)
        {
            return null;
        }

        AppDesign design = row.ToDesign();
        AppRelease? release = await ReleaseAsync(design.App.Id, version ?? design.PublishedVersion!.Value, ct).ConfigureAwait(false);
        return release is null ? null : new HostedApp(design.App.Id, design.App.OrgId, design.Slug, release, design.Access, row.PublicKey);
    }

    /// <summary>Sets the allowed origins and the publishable key's limits.</summary>
    public async Task<AppDesign> SetAccessAsync(User actor, string orgId, string appId, AppAccess access, string? ip, CancellationToken ct)
    {
        var origins = new List<string>();
        foreach (string raw in access.AllowedOrigins)
        {
            string origin = raw.Trim().TrimEnd('/');
            if (origin.Length == 0)
            {
                continue;
            }

            if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("https" or "http") || uri.PathAndQuery != "/" || origin.Contains('*', StringComparison.Ordinal))
            {
                throw PlatformException.Invalid("allowed_origins", $"'{origin}' is not an origin; write it as https://example.com (scheme, host and port only).");
            }

            origins.Add(uri.GetLeftPart(UriPartial.Authority));
        }

        if (origins.Count > 20)
        {
            throw PlatformException.Invalid("allowed_origins", "An app allows at most 20 origins.");
        }

        if (access.RequestsPerMinute is < 1 or > 10_000)
        {
            throw PlatformException.Invalid("requests_per_minute", "requests_per_minute must be between 1 and 10000.");
        }

        if (access.MonthlyTokens is < 1 or > 10_000_000_000)
        {
            throw PlatformException.Invalid("monthly_tokens", "monthly_tokens must be between 1 and 10000000000.");
        }

        AppDesign design = await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        Live(design);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE apps SET allowed_origins = @origins WHERE id = @appId", new { origins = JsonSerializer.Serialize(origins), appId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE api_keys SET limits = @limits WHERE app_id = @appId AND kind = 'app'",
            new { limits = LimitsJson.Serialize(KeyLimits(access)), appId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.AppAccessChanged, orgId, actor.Id, appId, $"{origins.Count} origin(s), {access.RequestsPerMinute}/min, {access.MonthlyTokens} tokens/month", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return await DesignAsync(orgId, appId, ct).ConfigureAwait(false);
    }

    /// <summary>The publishable key, created when the app has none yet (a preview or the first publish).</summary>
    public async Task<string> EnsureKeyAsync(User actor, AppDesign design, CancellationToken ct)
    {
        if (design.PublicKey is { } existing) // set only while the key is active (see DesignRow)
        {
            return existing;
        }

        string secret = ApiKeyGenerator.Generate("app-");
        byte[] sha = KeyHash.Sha256(secret);
        DateTimeOffset now = time.GetUtcNow();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        // One key per app even when two publishes race: the no-op update takes the app row's write lock first, so the
        // second transaction waits for the first to commit and then reads its key (the unique index backs this up).
        await connection.ExecuteAsync("UPDATE apps SET public_key = public_key WHERE id = @id", new { id = design.App.Id }, tx).ConfigureAwait(false);
        string? current = await connection.QuerySingleOrDefaultAsync<string?>(
            "SELECT a.public_key FROM apps a JOIN api_keys k ON k.app_id = a.id AND k.kind = 'app' AND k.revoked_ms IS NULL WHERE a.id = @id", new { id = design.App.Id }, tx).ConfigureAwait(false);
        if (current is not null)
        {
            return current;
        }

        await connection.ExecuteAsync(
            "INSERT INTO api_keys (id, org_id, app_id, name, prefix, key_hash, key_id, limits, created_by, created_ms, kind) VALUES (@id, @orgId, @appId, @name, @prefix, @hash, @keyId, @limits, @by, @now, 'app')",
            new
            {
                id = Ids.New("key", now), orgId = design.App.OrgId, appId = design.App.Id, name = $"{design.Slug} (app key)", prefix = ApiKeyGenerator.DisplayPrefixOf(secret),
                hash = Convert.ToHexStringLower(sha), keyId = KeyHash.KeyIdOf(sha), limits = LimitsJson.Serialize(KeyLimits(design.Access)), by = actor.Id, now = now.ToUnixTimeMilliseconds(),
            }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE apps SET public_key = @secret WHERE id = @id", new { secret, id = design.App.Id }, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return secret;
    }

    private static Limits KeyLimits(AppAccess access) => new(RequestsPerMinute: access.RequestsPerMinute, MonthlyTokens: access.MonthlyTokens);

    private static void Live(AppDesign design)
    {
        if (design.App.ArchivedAt is not null)
        {
            throw PlatformException.Conflict("app_archived", "The app is archived.");
        }
    }

    private sealed class DesignRow : AppRow
    {
        public string? Slug { get; set; }
        public string? Draft { get; set; }
        public long? PublishedVersion { get; set; }
        public string? PublicKey { get; set; }
        public string? AllowedOrigins { get; set; }
        public string? KeyLimits { get; set; }
        public string? PublicKeyId { get; set; }

        public AppDesign ToDesign()
        {
            App app = ToApp();
            AppSpec draft = Draft is null ? AppTemplates.Find("blank")! with { Title = Name } : JsonSerializer.Deserialize<AppSpec>(Draft, SpecJson)!;
            Limits? limits = LimitsJson.Deserialize(KeyLimits);
            var access = new AppAccess(
                AllowedOrigins is null ? [] : JsonSerializer.Deserialize<List<string>>(AllowedOrigins) ?? [],
                limits?.RequestsPerMinute ?? DefaultAccess.RequestsPerMinute,
                limits?.MonthlyTokens ?? DefaultAccess.MonthlyTokens);
            return new AppDesign(app, Slug ?? Id, draft, PublishedVersion is { } v ? (int)v : null, access, PublicKeyId is null ? null : PublicKey, PublicKeyId);
        }
    }

    private sealed class ReleaseRow
    {
        public string AppId { get; set; } = "";
        public long Version { get; set; }
        public string Spec { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public long CreatedMs { get; set; }

        public AppRelease ToRelease() => new(AppId, (int)Version, JsonSerializer.Deserialize<AppSpec>(Spec, SpecJson)!, CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs));
    }
}

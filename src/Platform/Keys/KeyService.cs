using System.Data.Common;
using Dapper;
using Inference.Gateway.Keys;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Inference.Platform.Organizations;

namespace Inference.Platform.Keys;

/// <summary>
/// API keys of organizations: created with the secret shown once ("sk-" + 256 random bits), stored as its SHA-256 with
/// a visible prefix, optional own limits and expiry, revocable. The gateway sees them through <see cref="PlatformKeyStore"/>.
/// </summary>
public sealed class KeyService(PlatformDatabase database, AuditLog audit, TimeProvider time)
{
    /// <summary>Raised after a key is created or revoked, so this replica's gateway view reloads at once.</summary>
    public event Action? Changed;

    /// <summary>Creates a key of the organization, or of one of its apps when <paramref name="appId"/> is given.</summary>
    public async Task<(KeyInfo Key, string Secret)> CreateAsync(User actor, string orgId, string? name, Limits? limits, DateTimeOffset? expiresAt, string? ip, CancellationToken ct,
        string? appId = null)
    {
        string trimmed = (name ?? string.Empty).Trim();
        if (trimmed.Length is 0 or > 100)
        {
            throw PlatformException.Invalid("name", "name must have 1 to 100 characters.");
        }

        DateTimeOffset now = time.GetUtcNow();
        if (expiresAt is { } e && e <= now)
        {
            throw PlatformException.Invalid("expires_at", "expires_at must be in the future.");
        }

        string secret = ApiKeyGenerator.Generate();
        byte[] sha = KeyHash.Sha256(secret);
        var key = new KeyInfo(Ids.New("key", now), orgId, trimmed, ApiKeyGenerator.DisplayPrefixOf(secret), KeyHash.KeyIdOf(sha), limits, actor.Id, now, expiresAt, null, null, appId);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        if (appId is not null)
        {
            // Checked in the transaction that inserts the key: an app archived meanwhile gets no new key.
            long? archived = await connection.QuerySingleOrDefaultAsync<long?>("SELECT COALESCE(archived_ms, 0) FROM apps WHERE id = @appId AND org_id = @orgId", new { appId, orgId }, tx).ConfigureAwait(false);
            if (archived is null)
            {
                throw PlatformException.Invalid("app_id", $"The organization has no app '{appId}'.");
            }

            if (archived != 0)
            {
                throw PlatformException.Invalid("app_id", $"The app '{appId}' is archived.");
            }
        }

        await connection.ExecuteAsync(
            "INSERT INTO api_keys (id, org_id, app_id, name, prefix, key_hash, key_id, limits, created_by, created_ms, expires_ms) VALUES (@Id, @OrgId, @AppId, @Name, @Prefix, @hash, @KeyId, @limits, @CreatedBy, @now, @expires)",
            new { key.Id, key.OrgId, key.AppId, key.Name, key.Prefix, hash = Convert.ToHexStringLower(sha), key.KeyId, limits = LimitsJson.Serialize(limits), key.CreatedBy, now = now.ToUnixTimeMilliseconds(), expires = expiresAt?.ToUnixTimeMilliseconds() },
            tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.KeyCreated, orgId, actor.Id, key.Id, $"{trimmed} ({key.Prefix})", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return (key, secret);
    }

    public async Task<IReadOnlyList<KeyInfo>> ListAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<KeyRow>("SELECT * FROM api_keys WHERE org_id = @orgId AND kind = 'secret' ORDER BY id", new { orgId }).ConfigureAwait(false))
            .Select(r => r.ToInfo()).ToList();
    }

    /// <summary>The key; 404 when it does not exist in this organization (another organization's key included).</summary>
    public async Task<KeyInfo> GetAsync(string orgId, string keyId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        KeyRow row = await connection.QuerySingleOrDefaultAsync<KeyRow>("SELECT * FROM api_keys WHERE org_id = @orgId AND id = @keyId", new { orgId, keyId }).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The key");
        return row.ToInfo();
    }

    /// <summary>Revokes the key: the gateway stops accepting it within the refresh interval, on every replica.</summary>
    public async Task<KeyInfo> RevokeAsync(User actor, string orgId, string keyId, string? ip, CancellationToken ct)
    {
        KeyInfo key = await GetAsync(orgId, keyId, ct).ConfigureAwait(false);
        if (key.RevokedAt is null)
        {
            await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync("UPDATE api_keys SET revoked_ms = @now WHERE id = @keyId AND org_id = @orgId AND revoked_ms IS NULL",
                new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), keyId, orgId }, tx).ConfigureAwait(false);
            await audit.WriteAsync(AuditAction.KeyRevoked, orgId, actor.Id, keyId, $"{key.Name} ({key.Prefix})", ip, connection, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            Changed?.Invoke();
        }

        return await GetAsync(orgId, keyId, ct).ConfigureAwait(false);
    }

    internal sealed class KeyRow
    {
        public string Id { get; set; } = "";
        public string OrgId { get; set; } = "";
        public string? AppId { get; set; }
        public string Name { get; set; } = "";
        public string Prefix { get; set; } = "";
        public string KeyHash { get; set; } = "";
        public string KeyId { get; set; } = "";
        public string? Limits { get; set; }
        public string CreatedBy { get; set; } = "";
        public long CreatedMs { get; set; }
        public long? ExpiresMs { get; set; }
        public long? RevokedMs { get; set; }
        public long? LastUsedMs { get; set; }
        public string Kind { get; set; } = "secret";

        public KeyInfo ToInfo() => new(Id, OrgId, Name, Prefix, KeyId, LimitsJson.Deserialize(Limits), CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs),
            At(ExpiresMs), At(RevokedMs), At(LastUsedMs), AppId);

        private static DateTimeOffset? At(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;
    }
}

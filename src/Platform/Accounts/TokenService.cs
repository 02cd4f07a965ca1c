using System.Data.Common;
using System.Net;
using System.Security.Claims;
using Dapper;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Inference.Platform.Accounts;

/// <summary>
/// Access tokens (HS256 JWTs, short-lived), refresh tokens (opaque, stored hashed, rotated on every use: presenting a
/// rotated one again revokes its whole family, as RFC 9700 section 4.14.2 advises) and cookie sessions with a CSRF
/// token. The signing key comes from configuration (<see cref="PlatformOptions.JwtSigningKey"/>) or else lives in the
/// database's settings table, created on first use, shared by replicas.
/// </summary>
public sealed class TokenService
{
    public const string Issuer = "inference-platform";
    public const string Audience = "inference-management";

    private readonly PlatformDatabase _database;
    private readonly AuditLog _audit;
    private readonly PlatformOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private SymmetricSecurityKey? _key;

    public TokenService(PlatformDatabase database, AuditLog audit, PlatformOptions options, TimeProvider time)
    {
        _database = database;
        _audit = audit;
        _options = options;
        _time = time;
    }

    /// <summary>Loads the signing key (configured, or created in the database on first use); called once at start-up.</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        if (_options.JwtSigningKey is { } configured)
        {
            _key = new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(configured)) { KeyId = "cfg" };
            return;
        }

        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        string candidate = Ids.NewSecret();
        await connection.ExecuteAsync("INSERT INTO settings (name, value) VALUES ('jwt_signing_key', @candidate) ON CONFLICT (name) DO NOTHING", new { candidate }).ConfigureAwait(false);
        string stored = await connection.ExecuteScalarAsync<string>("SELECT value FROM settings WHERE name = 'jwt_signing_key'").ConfigureAwait(false)
            ?? throw new InvalidOperationException("settings.jwt_signing_key is missing after insert");
        _key = new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(stored)) { KeyId = "k1" };
    }

    private SymmetricSecurityKey Key => _key ?? throw new InvalidOperationException("TokenService.InitializeAsync was not called.");

    /// <summary>A new access token and a refresh token that starts a new family.</summary>
    public Task<TokenPair> IssueAsync(User user, CancellationToken ct) => IssueAsync(user, Ids.New("fam", _time.GetUtcNow()), null, ct);

    /// <summary>
    /// Rotates a refresh token: the presented one is spent and a new one in the same family comes back. A token that
    /// was already spent (a replay: the thief's or the owner's copy) revokes the family, so both lose access.
    /// </summary>
    public async Task<TokenPair> RefreshAsync(string? refreshToken, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(refreshToken))
        {
            throw PlatformException.Invalid("refresh_token", "refresh_token is required.");
        }

        string hash = Ids.Hash(refreshToken);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        RefreshRow? row = await connection.QuerySingleOrDefaultAsync<RefreshRow>(
            "SELECT token_hash, family_id, user_id, expires_ms, used_ms, revoked_ms FROM refresh_tokens WHERE token_hash = @hash", new { hash }).ConfigureAwait(false);
        if (row is null || row.RevokedMs is not null || row.ExpiresMs <= now)
        {
            throw InvalidRefresh();
        }

        // Spend it; the condition makes two concurrent uses of one token count as a reuse for the loser.
        int spent = await connection.ExecuteAsync("UPDATE refresh_tokens SET used_ms = @now WHERE token_hash = @hash AND used_ms IS NULL", new { now, hash }).ConfigureAwait(false);
        if (spent != 1)
        {
            await connection.ExecuteAsync("UPDATE refresh_tokens SET revoked_ms = @now WHERE family_id = @FamilyId AND revoked_ms IS NULL", new { now, row.FamilyId }).ConfigureAwait(false);
            await _audit.WriteAsync(AuditAction.RefreshTokenReused, null, row.UserId, row.FamilyId, "family revoked", ip, connection).ConfigureAwait(false);
            throw InvalidRefresh();
        }

        AccountService.UserRow? user = await connection.QuerySingleOrDefaultAsync<AccountService.UserRow>("SELECT * FROM users WHERE id = @UserId", new { row.UserId }).ConfigureAwait(false);
        if (user is null)
        {
            throw InvalidRefresh();
        }

        return await IssueAsync(user.ToUser(), row.FamilyId, connection, ct).ConfigureAwait(false);
    }

    /// <summary>Revokes the family of <paramref name="refreshToken"/> (sign-out); unknown tokens are ignored.</summary>
    public async Task RevokeAsync(string? refreshToken, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(refreshToken))
        {
            throw PlatformException.Invalid("refresh_token", "refresh_token is required.");
        }

        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE refresh_tokens SET revoked_ms = @now WHERE revoked_ms IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = @hash)",
            new { now = _time.GetUtcNow().ToUnixTimeMilliseconds(), hash = Ids.Hash(refreshToken) }).ConfigureAwait(false);
    }

    /// <summary>The user id of a valid access token, or null (bad signature, expired, wrong issuer or audience).</summary>
    public async Task<string?> ValidateAccessTokenAsync(string token)
    {
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            // On the injected clock, with 30 s of skew either way (a custom validator replaces ClockSkew's use).
            LifetimeValidator = (notBefore, expires, _, _) =>
            {
                DateTime now = _time.GetUtcNow().UtcDateTime;
                return expires is { } e && now < e.AddSeconds(30) && (notBefore is not { } nb || now >= nb.AddSeconds(-30));
            },
        };
        TokenValidationResult result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        return result.IsValid && result.Claims.TryGetValue(JwtRegisteredClaimNames.Sub, out object? sub) ? sub as string : null;
    }

    /// <summary>Starts a cookie session for the dashboard.</summary>
    public async Task<Session> CreateSessionAsync(User user, CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        var session = new Session(Ids.NewSecret("ses_"), Ids.NewSecret(), user.Id, now + _options.SessionLifetime);
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO sessions (token_hash, user_id, csrf_token, created_ms, expires_ms) VALUES (@hash, @UserId, @CsrfToken, @now, @expires)",
            new { hash = Ids.Hash(session.Token), session.UserId, session.CsrfToken, now = now.ToUnixTimeMilliseconds(), expires = session.ExpiresAt.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return session;
    }

    /// <summary>The live session of a cookie token, or null.</summary>
    public async Task<Session?> FindSessionAsync(string token, CancellationToken ct)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<SessionRow>(
            "SELECT user_id, csrf_token, expires_ms FROM sessions WHERE token_hash = @hash AND revoked_ms IS NULL AND expires_ms > @now",
            new { hash = Ids.Hash(token), now = _time.GetUtcNow().ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return row is null ? null : new Session(token, row.CsrfToken, row.UserId, DateTimeOffset.FromUnixTimeMilliseconds(row.ExpiresMs));
    }

    /// <summary>Ends a cookie session.</summary>
    public async Task EndSessionAsync(string token, CancellationToken ct)
    {
        await using DbConnection connection = await _database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE sessions SET revoked_ms = @now WHERE token_hash = @hash",
            new { now = _time.GetUtcNow().ToUnixTimeMilliseconds(), hash = Ids.Hash(token) }).ConfigureAwait(false);
    }

    private async Task<TokenPair> IssueAsync(User user, string familyId, DbConnection? connection, CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset accessExpires = now + _options.AccessTokenLifetime;
        DateTimeOffset refreshExpires = now + _options.RefreshTokenLifetime;
        string access = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = accessExpires.UtcDateTime,
            Subject = new ClaimsIdentity([new Claim(JwtRegisteredClaimNames.Sub, user.Id), new Claim(JwtRegisteredClaimNames.Jti, Ids.New("jti", now))]),
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.HmacSha256),
        });
        string refresh = Ids.NewSecret("rt_");
        DbConnection db = connection ?? await _database.OpenAsync(ct).ConfigureAwait(false);
        try
        {
            await db.ExecuteAsync("INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_ms, expires_ms) VALUES (@hash, @familyId, @userId, @now, @expires)",
                new { hash = Ids.Hash(refresh), familyId, userId = user.Id, now = now.ToUnixTimeMilliseconds(), expires = refreshExpires.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        }
        finally
        {
            if (connection is null)
            {
                await db.DisposeAsync().ConfigureAwait(false);
            }
        }

        return new TokenPair(access, accessExpires, refresh, refreshExpires);
    }

    private static PlatformException InvalidRefresh() =>
        new(HttpStatusCode.Unauthorized, "invalid_refresh_token", "The refresh token is unknown, expired, revoked or already used; sign in again.");

    private sealed class RefreshRow
    {
        public string TokenHash { get; set; } = "";
        public string FamilyId { get; set; } = "";
        public string UserId { get; set; } = "";
        public long ExpiresMs { get; set; }
        public long? UsedMs { get; set; }
        public long? RevokedMs { get; set; }
    }

    private sealed class SessionRow
    {
        public string UserId { get; set; } = "";
        public string CsrfToken { get; set; } = "";
        public long ExpiresMs { get; set; }
    }
}

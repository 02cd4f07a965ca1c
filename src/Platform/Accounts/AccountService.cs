using System.Data.Common;
using System.Net;
using System.Net.Mail;
using Dapper;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Inference.Platform.Email;
using Inference.Platform.Hosting;
using OtpNet;

namespace Inference.Platform.Accounts;

/// <summary>
/// Users: sign-up, sign-in with lockout, TOTP second factor with recovery codes, password reset by one-time token.
/// </summary>
public sealed class AccountService(
    PlatformDatabase database, PasswordHasher hasher, AuditLog audit, IEmailSender email, PlatformOptions options, TimeProvider time)
{
    public const int MinPasswordLength = 10;
    public const int MaxPasswordLength = 256;
    private const int RecoveryCodeCount = 10;

    // Verified against when the email is unknown, so an unknown address takes as long as a wrong password.
    private readonly Lazy<string> _dummyHash = new(() => hasher.Hash("not a password of anyone"));

    /// <summary>Creates a user; 409 when the email is taken.</summary>
    public async Task<User> SignUpAsync(string? emailAddress, string? password, string? name, bool isAdmin = false, string? ip = null, CancellationToken ct = default)
    {
        string normalized = NormalizeEmail(emailAddress);
        CheckPassword(password, "password");
        string displayName = (name ?? string.Empty).Trim();
        if (displayName.Length > 200)
        {
            throw PlatformException.Invalid("name", "name is at most 200 characters.");
        }

        DateTimeOffset now = time.GetUtcNow();
        string id = Ids.New("usr", now);
        string hash = hasher.Hash(password!);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        try
        {
            await connection.ExecuteAsync(
                "INSERT INTO users (id, email, name, password_hash, is_admin, created_ms) VALUES (@id, @email, @name, @hash, @admin, @now)",
                new { id, email = normalized, name = displayName, hash, admin = isAdmin ? 1L : 0L, now = now.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        }
        catch (DbException ex) when (PlatformDatabase.IsUniqueViolation(ex))
        {
            throw PlatformException.Conflict("email_taken", "An account with this email already exists.");
        }

        await audit.WriteAsync(AuditAction.SignUp, null, id, id, isAdmin ? "platform admin" : null, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return new User(id, normalized, displayName, isAdmin, false, now);
    }

    /// <summary>
    /// Checks the password (and the second factor when the account has one); counts failures and locks the account
    /// after <see cref="PlatformOptions.LockoutThreshold"/> in a row. The error never says whether the email exists.
    /// </summary>
    public async Task<User> SignInAsync(string? emailAddress, string? password, string? totpCode, string? recoveryCode, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(emailAddress) || string.IsNullOrEmpty(password))
        {
            throw PlatformException.Invalid(string.IsNullOrEmpty(emailAddress) ? "email" : "password", "email and password are required.");
        }

        string normalized = emailAddress.Trim().ToLowerInvariant();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow? row = await connection.QuerySingleOrDefaultAsync<UserRow>("SELECT * FROM users WHERE email = @normalized", new { normalized }).ConfigureAwait(false);
        DateTimeOffset now = time.GetUtcNow();
        if (row is null)
        {
            PasswordHasher.Verify(password, _dummyHash.Value);
            throw BadCredentials();
        }

        if (row.LockedUntilMs is { } until && until > now.ToUnixTimeMilliseconds())
        {
            throw Locked(until, now);
        }

        if (!PasswordHasher.Verify(password, row.PasswordHash))
        {
            await FailAsync(connection, row, "password", ip, now).ConfigureAwait(false);
            throw BadCredentials();
        }

        if (row.TotpEnabled != 0)
        {
            if (string.IsNullOrEmpty(totpCode) && string.IsNullOrEmpty(recoveryCode))
            {
                throw new PlatformException(HttpStatusCode.Unauthorized, "two_factor_required", "This account has two-factor authentication: give totp_code (or a recovery_code).");
            }

            bool second = !string.IsNullOrEmpty(totpCode)
                ? await VerifyTotpAsync(connection, row, totpCode, now).ConfigureAwait(false)
                : await UseRecoveryCodeAsync(connection, row, recoveryCode!, ip, now).ConfigureAwait(false);
            if (!second)
            {
                await FailAsync(connection, row, "second factor", ip, now).ConfigureAwait(false);
                throw new PlatformException(HttpStatusCode.Unauthorized, "invalid_second_factor", "The two-factor code is wrong or was already used.");
            }
        }

        await connection.ExecuteAsync("UPDATE users SET failed_logins = 0, locked_until_ms = NULL WHERE id = @Id", new { row.Id }).ConfigureAwait(false);
        if (hasher.NeedsRehash(row.PasswordHash))
        {
            await connection.ExecuteAsync("UPDATE users SET password_hash = @hash WHERE id = @Id", new { hash = hasher.Hash(password), row.Id }).ConfigureAwait(false);
        }

        await audit.WriteAsync(AuditAction.SignIn, null, row.Id, row.Id, null, ip, connection).ConfigureAwait(false);
        return row.ToUser();
    }

    /// <summary>The user, or null when the id is unknown.</summary>
    public async Task<User?> FindAsync(string userId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow? row = await connection.QuerySingleOrDefaultAsync<UserRow>("SELECT * FROM users WHERE id = @userId", new { userId }).ConfigureAwait(false);
        return row?.ToUser();
    }

    /// <summary>True when any platform admin exists.</summary>
    public async Task<bool> AnyAdminAsync(CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users WHERE is_admin = 1").ConfigureAwait(false) > 0;
    }

    /// <summary>Starts TOTP enrolment: a new secret (not yet active) and its otpauth:// URI for an authenticator app.</summary>
    public async Task<(string Secret, string Uri)> BeginTotpAsync(string userId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow row = await connection.QuerySingleAsync<UserRow>("SELECT * FROM users WHERE id = @userId", new { userId }).ConfigureAwait(false);
        if (row.TotpEnabled != 0)
        {
            throw PlatformException.Conflict("two_factor_enabled", "Two-factor authentication is already on; turn it off first to enrol a new device.");
        }

        string secret = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        await connection.ExecuteAsync("UPDATE users SET totp_secret = @secret WHERE id = @userId", new { secret, userId }).ConfigureAwait(false);
        string uri = $"otpauth://totp/Inference:{Uri.EscapeDataString(row.Email)}?secret={secret}&issuer=Inference&algorithm=SHA1&digits=6&period=30";
        return (secret, uri);
    }

    /// <summary>Turns TOTP on once a code from the new secret checks; returns the recovery codes (shown once).</summary>
    public async Task<IReadOnlyList<string>> ConfirmTotpAsync(string userId, string? code, string? ip, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow row = await connection.QuerySingleAsync<UserRow>("SELECT * FROM users WHERE id = @userId", new { userId }).ConfigureAwait(false);
        if (row.TotpEnabled != 0)
        {
            throw PlatformException.Conflict("two_factor_enabled", "Two-factor authentication is already on.");
        }

        if (row.TotpSecret is null)
        {
            throw PlatformException.Conflict("two_factor_not_started", "Start enrolment first (POST /api/me/2fa).");
        }

        if (string.IsNullOrEmpty(code) || !await VerifyTotpAsync(connection, row, code, time.GetUtcNow()).ConfigureAwait(false))
        {
            throw PlatformException.Invalid("code", "The code does not match the new secret; check the authenticator app's clock.");
        }

        var codes = new List<string>(RecoveryCodeCount);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM recovery_codes WHERE user_id = @userId", new { userId }, tx).ConfigureAwait(false);
        for (int i = 0; i < RecoveryCodeCount; i++)
        {
            string recovery = NewRecoveryCode();
            codes.Add(recovery);
            await connection.ExecuteAsync("INSERT INTO recovery_codes (user_id, code_hash) VALUES (@userId, @hash)", new { userId, hash = Ids.Hash(recovery) }, tx).ConfigureAwait(false);
        }

        await connection.ExecuteAsync("UPDATE users SET totp_enabled = 1 WHERE id = @userId", new { userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.TwoFactorEnabled, null, userId, userId, null, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return codes;
    }

    /// <summary>Turns TOTP off; needs the password (a stolen access token alone cannot).</summary>
    public async Task DisableTotpAsync(string userId, string? password, string? ip, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow row = await connection.QuerySingleAsync<UserRow>("SELECT * FROM users WHERE id = @userId", new { userId }).ConfigureAwait(false);
        if (string.IsNullOrEmpty(password) || !PasswordHasher.Verify(password, row.PasswordHash))
        {
            throw PlatformException.Invalid("password", "The password is wrong.");
        }

        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL WHERE id = @userId", new { userId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM recovery_codes WHERE user_id = @userId", new { userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.TwoFactorDisabled, null, userId, userId, null, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Mails a one-time reset token when the email has an account; says nothing either way (no account discovery).
    /// The token is 256 random bits, stored only as its SHA-256, valid for <see cref="PlatformOptions.ResetTokenLifetime"/>.
    /// </summary>
    public async Task RequestPasswordResetAsync(string? emailAddress, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(emailAddress))
        {
            throw PlatformException.Invalid("email", "email is required.");
        }

        string normalized = emailAddress.Trim().ToLowerInvariant();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        string? userId = await connection.ExecuteScalarAsync<string?>("SELECT id FROM users WHERE email = @normalized", new { normalized }).ConfigureAwait(false);
        if (userId is null)
        {
            return;
        }

        DateTimeOffset now = time.GetUtcNow();
        string token = Ids.NewSecret("rst_");
        await connection.ExecuteAsync("INSERT INTO reset_tokens (token_hash, user_id, created_ms, expires_ms) VALUES (@hash, @userId, @now, @expires)",
            new { hash = Ids.Hash(token), userId, now = now.ToUnixTimeMilliseconds(), expires = (now + options.ResetTokenLifetime).ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        string link = $"{options.PublicUrl.TrimEnd('/')}/reset-password?token={token}";
        await email.SendAsync(normalized, "Reset your password",
            $"Someone asked to reset the password of this account. To choose a new one, open {link}\r\n" +
            $"or POST /api/auth/password-reset/confirm with token {token}.\r\n" +
            $"The token works once, for {options.ResetTokenLifetime.TotalMinutes:0} minutes. If you did not ask, ignore this message.", ct).ConfigureAwait(false);
    }

    /// <summary>Sets a new password with a reset token (once), clears any lockout and ends every session and refresh token.</summary>
    public async Task ResetPasswordAsync(string? token, string? newPassword, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw PlatformException.Invalid("token", "token is required.");
        }

        CheckPassword(newPassword, "new_password");
        DateTimeOffset now = time.GetUtcNow();
        long nowMs = now.ToUnixTimeMilliseconds();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        string hash = Ids.Hash(token);
        string? userId = await connection.ExecuteScalarAsync<string?>(
            "SELECT user_id FROM reset_tokens WHERE token_hash = @hash AND used_ms IS NULL AND expires_ms > @nowMs", new { hash, nowMs }, tx).ConfigureAwait(false);
        // The conditional update makes the token one-time even when two resets race.
        if (userId is null || await connection.ExecuteAsync("UPDATE reset_tokens SET used_ms = @nowMs WHERE token_hash = @hash AND used_ms IS NULL", new { hash, nowMs }, tx).ConfigureAwait(false) != 1)
        {
            throw PlatformException.Invalid("token", "The reset token is unknown, expired or already used; ask for a new one.");
        }

        await connection.ExecuteAsync("UPDATE users SET password_hash = @pw, failed_logins = 0, locked_until_ms = NULL WHERE id = @userId",
            new { pw = hasher.Hash(newPassword!), userId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE refresh_tokens SET revoked_ms = @nowMs WHERE user_id = @userId AND revoked_ms IS NULL", new { nowMs, userId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE sessions SET revoked_ms = @nowMs WHERE user_id = @userId AND revoked_ms IS NULL", new { nowMs, userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.PasswordReset, null, userId, userId, null, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Changes the password (the current one is required) and ends every session and refresh token of the account.</summary>
    public async Task ChangePasswordAsync(string userId, string? currentPassword, string? newPassword, string? ip, CancellationToken ct)
    {
        CheckPassword(newPassword, "new_password");
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        UserRow row = await connection.QuerySingleAsync<UserRow>("SELECT * FROM users WHERE id = @userId", new { userId }).ConfigureAwait(false);
        if (string.IsNullOrEmpty(currentPassword) || !PasswordHasher.Verify(currentPassword, row.PasswordHash))
        {
            throw PlatformException.Invalid("current_password", "The current password is wrong.");
        }

        long nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE users SET password_hash = @pw WHERE id = @userId", new { pw = hasher.Hash(newPassword!), userId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE refresh_tokens SET revoked_ms = @nowMs WHERE user_id = @userId AND revoked_ms IS NULL", new { nowMs, userId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE sessions SET revoked_ms = @nowMs WHERE user_id = @userId AND revoked_ms IS NULL", new { nowMs, userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.PasswordChanged, null, userId, userId, null, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Lowercased, trimmed email; 400 naming "email" when it is not an address.</summary>
    public static string NormalizeEmail(string? emailAddress)
    {
        string trimmed = (emailAddress ?? string.Empty).Trim();
        if (trimmed.Length is 0 or > 254 || !MailAddress.TryCreate(trimmed, out MailAddress? parsed) || parsed.Address != trimmed || !trimmed.Contains('.', StringComparison.Ordinal))
        {
            throw PlatformException.Invalid("email", "email must be an email address such as name@example.com.");
        }

        return trimmed.ToLowerInvariant();
    }

    internal static void CheckPassword(string? password, string field)
    {
        if (password is null || password.Length < MinPasswordLength)
        {
            throw PlatformException.Invalid(field, $"{field} must have at least {MinPasswordLength} characters.");
        }

        if (password.Length > MaxPasswordLength)
        {
            throw PlatformException.Invalid(field, $"{field} must have at most {MaxPasswordLength} characters.");
        }
    }

    private async Task FailAsync(DbConnection connection, UserRow row, string what, string? ip, DateTimeOffset now)
    {
        // One statement counts and locks, so concurrent guesses cannot slip past the threshold.
        long lockUntil = (now + options.LockoutDuration).ToUnixTimeMilliseconds();
        long failed = await connection.ExecuteScalarAsync<long>(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until_ms = CASE WHEN failed_logins + 1 >= @threshold THEN @lockUntil ELSE locked_until_ms END WHERE id = @Id RETURNING failed_logins",
            new { threshold = (long)options.LockoutThreshold, lockUntil, row.Id }).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.SignInFailed, null, row.Id, row.Id, what, ip, connection).ConfigureAwait(false);
        if (failed == options.LockoutThreshold)
        {
            await audit.WriteAsync(AuditAction.LockedOut, null, row.Id, row.Id, $"{failed} failed sign-ins", ip, connection).ConfigureAwait(false);
        }

        if (failed >= options.LockoutThreshold)
        {
            throw Locked(lockUntil, now);
        }
    }

    private static async Task<bool> VerifyTotpAsync(DbConnection connection, UserRow row, string code, DateTimeOffset now)
    {
        if (row.TotpSecret is null || code.Length != 6 || !code.All(char.IsAsciiDigit))
        {
            return false;
        }

        var totp = new Totp(Base32Encoding.ToBytes(row.TotpSecret));
        if (!totp.VerifyTotp(now.UtcDateTime, code, out long step, VerificationWindow.RfcSpecifiedNetworkDelay))
        {
            return false;
        }

        // A code is good once: the step must be newer than the last one used (RFC 6238 section 5.2).
        int updated = await connection.ExecuteAsync(
            "UPDATE users SET totp_last_step = @step WHERE id = @Id AND (totp_last_step IS NULL OR totp_last_step < @step)", new { step, row.Id }).ConfigureAwait(false);
        return updated == 1;
    }

    private async Task<bool> UseRecoveryCodeAsync(DbConnection connection, UserRow row, string code, string? ip, DateTimeOffset now)
    {
        string hash = Ids.Hash(code.Trim().ToLowerInvariant());
        int updated = await connection.ExecuteAsync(
            "UPDATE recovery_codes SET used_ms = @now WHERE user_id = @Id AND code_hash = @hash AND used_ms IS NULL",
            new { now = now.ToUnixTimeMilliseconds(), row.Id, hash }).ConfigureAwait(false);
        if (updated == 1)
        {
            await audit.WriteAsync(AuditAction.RecoveryCodeUsed, null, row.Id, row.Id, null, ip, connection).ConfigureAwait(false);
        }

        return updated == 1;
    }

    private static string NewRecoveryCode()
    {
        const string Alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
        Span<char> chars = stackalloc char[11];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = i == 5 ? '-' : Alphabet[System.Security.Cryptography.RandomNumberGenerator.GetInt32(Alphabet.Length)];
        }

        return new string(chars);
    }

    private static PlatformException BadCredentials() =>
        new(HttpStatusCode.Unauthorized, "invalid_credentials", "The email or password is wrong.");

    private static PlatformException Locked(long untilMs, DateTimeOffset now)
    {
        int seconds = (int)Math.Max(1, Math.Ceiling((untilMs - now.ToUnixTimeMilliseconds()) / 1000.0));
        return new PlatformException(HttpStatusCode.TooManyRequests, "account_locked",
            $"Too many failed sign-ins: the account is locked for {seconds} s. Reset the password to unlock it now.")
        { RetryAfterSeconds = seconds };
    }

    internal sealed class UserRow
    {
        public string Id { get; set; } = "";
        public string Email { get; set; } = "";
        public string Name { get; set; } = "";
        public string PasswordHash { get; set; } = "";
        public long IsAdmin { get; set; }
        public long FailedLogins { get; set; }
        public long? LockedUntilMs { get; set; }
        public string? TotpSecret { get; set; }
        public long TotpEnabled { get; set; }
        public long? TotpLastStep { get; set; }
        public long CreatedMs { get; set; }

        public User ToUser() => new(Id, Email, Name, IsAdmin != 0, TotpEnabled != 0, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs));
    }
}

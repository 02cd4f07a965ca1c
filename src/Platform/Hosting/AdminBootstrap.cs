using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Data;

namespace Inference.Platform.Hosting;

/// <summary>
/// The first platform admin: from configuration (Platform:AdminEmail and Platform:AdminPassword) or, when none is
/// configured, through a one-time token written at start to <see cref="TokenFileName"/> in the data folder, readable
/// by the platform's user only (never a default password, and never printed or logged: console output ends up in
/// logs). Redeeming it (POST /api/admin/bootstrap) creates the admin, spends the token and deletes the file.
/// </summary>
public sealed class AdminBootstrap(PlatformDatabase database, AccountService accounts, PlatformOptions options)
{
    public const string TokenFileName = "admin-bootstrap-token";

    private const string Setting = "bootstrap_token_sha256";

    /// <summary>Where the one-time token is written while no admin exists.</summary>
    public string TokenFile => Path.GetFullPath(Path.Combine(options.DataDir, TokenFileName));

    /// <summary>
    /// Makes sure an admin can exist: creates the configured one, or writes a fresh one-time token to
    /// <see cref="TokenFile"/> and returns it (null when an admin exists already).
    /// </summary>
    public async Task<string?> EnsureAsync(CancellationToken ct)
    {
        if (await accounts.AnyAdminAsync(ct).ConfigureAwait(false))
        {
            DeleteTokenFile();
            return null;
        }

        if (options.AdminEmail is { } email && options.AdminPassword is { } password)
        {
            await accounts.SignUpAsync(email, password, "Administrator", isAdmin: true, ct: ct).ConfigureAwait(false);
            DeleteTokenFile();
            return null;
        }

        string token = Ids.NewSecret("boot_");
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        // A new token each start until redeemed: the one in the file now is the only one that works.
        await connection.ExecuteAsync("DELETE FROM settings WHERE name = @Setting", new { Setting }).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO settings (name, value) VALUES (@Setting, @hash)", new { Setting, hash = Ids.Hash(token) }).ConfigureAwait(false);
        await WriteTokenFileAsync(token, ct).ConfigureAwait(false);
        return token;
    }

    private async Task WriteTokenFileAsync(string token, CancellationToken ct)
    {
        string path = TokenFile;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Replaced, not rewritten in place: a file left by an earlier start may have looser permissions.
        DeleteTokenFile();
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using var file = new FileStream(path, create);
        await file.WriteAsync(Encoding.ASCII.GetBytes(token + "\n"), ct).ConfigureAwait(false);
    }

    private void DeleteTokenFile()
    {
        try
        {
            File.Delete(TokenFile);
        }
        catch (IOException)
        {
            // Best effort: a spent token no longer works, whether or not its file is gone.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public async Task<User> RedeemAsync(string? token, string? email, string? password, string? name, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw PlatformException.Invalid("token", $"token is required (the platform writes it to {TokenFileName} in its data folder at start while no admin exists).");
        }

        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        string? stored = await connection.ExecuteScalarAsync<string?>("SELECT value FROM settings WHERE name = @Setting", new { Setting }).ConfigureAwait(false);
        if (stored is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored), Encoding.ASCII.GetBytes(Ids.Hash(token))))
        {
            throw PlatformException.Invalid("token", "The bootstrap token is wrong or was already used.");
        }

        AccountService.NormalizeEmail(email);
        AccountService.CheckPassword(password, "password");

        // Spend the token first (conditional delete): two racing redemptions create one admin.
        if (await connection.ExecuteAsync("DELETE FROM settings WHERE name = @Setting AND value = @stored", new { Setting, stored }).ConfigureAwait(false) != 1)
        {
            throw PlatformException.Invalid("token", "The bootstrap token was already used.");
        }

        User admin = await accounts.SignUpAsync(email, password, string.IsNullOrWhiteSpace(name) ? "Administrator" : name, isAdmin: true, ip: ip, ct: ct).ConfigureAwait(false);
        DeleteTokenFile();
        return admin;
    }
}

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
/// configured, through a one-time token printed at start (never a default password). Redeeming it
/// (POST /api/admin/bootstrap) creates the admin and spends the token.
/// </summary>
public sealed class AdminBootstrap(PlatformDatabase database, AccountService accounts, PlatformOptions options)
{
    private const string Setting = "bootstrap_token_sha256";

    /// <summary>
    /// Makes sure an admin can exist: creates the configured one, or returns a fresh one-time token to print (null when
    /// an admin exists already).
    /// </summary>
    public async Task<string?> EnsureAsync(CancellationToken ct)
    {
        if (await accounts.AnyAdminAsync(ct).ConfigureAwait(false))
        {
            return null;
        }

        if (options.AdminEmail is { } email && options.AdminPassword is { } password)
        {
            await accounts.SignUpAsync(email, password, "Administrator", isAdmin: true, ct: ct).ConfigureAwait(false);
            return null;
        }

        string token = Ids.NewSecret("boot_");
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        // A new token each start until redeemed: the printed one is the only one that works.
        await connection.ExecuteAsync("DELETE FROM settings WHERE name = @Setting", new { Setting }).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO settings (name, value) VALUES (@Setting, @hash)", new { Setting, hash = Ids.Hash(token) }).ConfigureAwait(false);
        return token;
    }

    public async Task<User> RedeemAsync(string? token, string? email, string? password, string? name, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw PlatformException.Invalid("token", "token is required (printed by the platform at its first start).");
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

        return await accounts.SignUpAsync(email, password, string.IsNullOrWhiteSpace(name) ? "Administrator" : name, isAdmin: true, ip: ip, ct: ct).ConfigureAwait(false);
    }
}

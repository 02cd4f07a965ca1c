using System.Text.RegularExpressions;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;
using OtpNet;

namespace Inference.Platform.Tests.Accounts;

/// <summary>Accounts on a real database: sign-up, lockout, TOTP with recovery codes, password reset, refresh-token rotation.</summary>
public abstract partial class AccountTests : DatabaseSuite
{
    private const string Password = "correct horse battery";

    private AccountService Accounts => Platform.Get<AccountService>();

    private TokenService Tokens => Platform.Get<TokenService>();

    [DbFact]
    public async Task SignUp_SameEmailTwice_SecondIsConflictAndEmailIsCaseInsensitive()
    {
        User user = await Accounts.SignUpAsync("Kim@Example.com", Password, "Kim");
        Assert.Equal("kim@example.com", user.Email);

        var ex = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignUpAsync("kim@example.COM", Password, "Other"));
        Assert.Equal("email_taken", ex.Code);
        Assert.Equal(user.Id, (await Accounts.SignInAsync("KIM@example.com", Password, null, null, null, default)).Id);
    }

    [DbFact]
    public async Task SignUp_ShortPasswordOrBadEmail_RefusedNamingTheField()
    {
        var shortPassword = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignUpAsync("a@example.com", "short", null));
        Assert.Equal("password", shortPassword.Field);
        var badEmail = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignUpAsync("not-an-email", Password, null));
        Assert.Equal("email", badEmail.Field);
    }

    [DbFact]
    public async Task SignIn_FiveWrongPasswords_LocksEvenTheRightOneUntilTheLockoutEnds()
    {
        await Accounts.SignUpAsync("lee@example.com", Password, "Lee");
        for (int i = 0; i < 4; i++)
        {
            var wrong = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("lee@example.com", "wrong password!", null, null, null, default));
            Assert.Equal("invalid_credentials", wrong.Code);
        }

        var fifth = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("lee@example.com", "wrong password!", null, null, null, default));
        Assert.Equal("account_locked", fifth.Code);
        var locked = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("lee@example.com", Password, null, null, null, default));
        Assert.Equal("account_locked", locked.Code);
        Assert.True(locked.RetryAfterSeconds > 0);

        Platform.Time.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1));
        User user = await Accounts.SignInAsync("lee@example.com", Password, null, null, null, default);
        Assert.Equal("lee@example.com", user.Email);
        // A success resets the count: four more failures do not lock.
        for (int i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("lee@example.com", "wrong password!", null, null, null, default));
        }

        await Accounts.SignInAsync("lee@example.com", Password, null, null, null, default);
    }

    [DbFact]
    public async Task SignIn_UnknownEmail_SameErrorAsWrongPassword()
    {
        var ex = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("nobody@example.com", Password, null, null, null, default));
        Assert.Equal("invalid_credentials", ex.Code);
    }

    [DbFact]
    public async Task Totp_Enrolled_SignInNeedsACurrentCodeOnceAndRecoveryCodesWorkOnce()
    {
        User user = await Accounts.SignUpAsync("park@example.com", Password, "Park");
        var (secret, uri) = await Accounts.BeginTotpAsync(user.Id, default);
        Assert.StartsWith("otpauth://totp/Inference:park%40example.com?secret=", uri, StringComparison.Ordinal);
        var totp = new Totp(Base32Encoding.ToBytes(secret));
        string Code() => totp.ComputeTotp(Platform.Time.GetUtcNow().UtcDateTime);

        await Assert.ThrowsAsync<PlatformException>(() => Accounts.ConfirmTotpAsync(user.Id, "000000" == Code() ? "111111" : "000000", null, default));
        IReadOnlyList<string> recovery = await Accounts.ConfirmTotpAsync(user.Id, Code(), null, default);
        Assert.Equal(10, recovery.Count);
        Assert.Equal(10, recovery.Distinct().Count());

        var needed = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("park@example.com", Password, null, null, null, default));
        Assert.Equal("two_factor_required", needed.Code);

        // The code used to confirm is spent; the next time step's code works once.
        Platform.Time.Advance(TimeSpan.FromSeconds(30));
        string code = Code();
        Assert.True((await Accounts.SignInAsync("park@example.com", Password, code, null, null, default)).TwoFactorEnabled);
        var replay = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("park@example.com", Password, code, null, null, default));
        Assert.Equal("invalid_second_factor", replay.Code);

        await Accounts.SignInAsync("park@example.com", Password, null, recovery[3], null, default);
        var again = await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("park@example.com", Password, null, recovery[3], null, default));
        Assert.Equal("invalid_second_factor", again.Code);

        await Accounts.DisableTotpAsync(user.Id, Password, null, default);
        Assert.False((await Accounts.SignInAsync("park@example.com", Password, null, null, null, default)).TwoFactorEnabled);
    }

    [DbFact]
    public async Task PasswordReset_TokenWorksOnceBeforeItExpiresAndEndsRefreshTokens()
    {
        User user = await Accounts.SignUpAsync("choi@example.com", Password, "Choi");
        TokenPair before = await Tokens.IssueAsync(user, default);
        await Accounts.RequestPasswordResetAsync("choi@example.com", default);
        await Accounts.RequestPasswordResetAsync("nobody@example.com", default); // says nothing, sends nothing
        string token = TokenIn(Platform.LastMailTo("choi@example.com"));

        await Accounts.ResetPasswordAsync(token, "a new long password", null, default);
        await Assert.ThrowsAsync<PlatformException>(() => Accounts.ResetPasswordAsync(token, "another long password", null, default));
        await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("choi@example.com", Password, null, null, null, default));
        await Accounts.SignInAsync("choi@example.com", "a new long password", null, null, null, default);
        var revoked = await Assert.ThrowsAsync<PlatformException>(() => Tokens.RefreshAsync(before.RefreshToken, null, default));
        Assert.Equal("invalid_refresh_token", revoked.Code);
        Assert.DoesNotContain(Directory.GetFiles(Platform.MailDir), f => f.Contains("nobody", StringComparison.Ordinal));

        await Accounts.RequestPasswordResetAsync("choi@example.com", default);
        string late = TokenIn(Platform.LastMailTo("choi@example.com"));
        Platform.Time.Advance(TimeSpan.FromMinutes(31));
        await Assert.ThrowsAsync<PlatformException>(() => Accounts.ResetPasswordAsync(late, "yet another password", null, default));
    }

    [DbFact]
    public async Task ChangePassword_NeedsTheCurrentOneAndEndsRefreshTokens()
    {
        User user = await Accounts.SignUpAsync("han@example.com", Password, "Han");
        TokenPair pair = await Tokens.IssueAsync(user, default);
        var wrong = await Assert.ThrowsAsync<PlatformException>(() => Accounts.ChangePasswordAsync(user.Id, "not it at all", "a new long password", null, default));
        Assert.Equal("current_password", wrong.Field);
        await Accounts.ChangePasswordAsync(user.Id, Password, "a new long password", null, default);
        await Assert.ThrowsAsync<PlatformException>(() => Tokens.RefreshAsync(pair.RefreshToken, null, default));
        await Assert.ThrowsAsync<PlatformException>(() => Accounts.SignInAsync("han@example.com", Password, null, null, null, default));
        await Accounts.SignInAsync("han@example.com", "a new long password", null, null, null, default);
    }

    [DbFact]
    public async Task Refresh_RotatesAndAReusedTokenRevokesTheWholeFamily()
    {
        User user = await Accounts.SignUpAsync("jung@example.com", Password, "Jung");
        TokenPair first = await Tokens.IssueAsync(user, default);
        Assert.Equal(user.Id, await Tokens.ValidateAccessTokenAsync(first.AccessToken));
        TokenPair second = await Tokens.RefreshAsync(first.RefreshToken, null, default);
        TokenPair third = await Tokens.RefreshAsync(second.RefreshToken, null, default);
        Assert.NotEqual(second.RefreshToken, third.RefreshToken);

        // The stolen first token is replayed: refused, and the family (the owner's current token too) is revoked.
        await Assert.ThrowsAsync<PlatformException>(() => Tokens.RefreshAsync(first.RefreshToken, null, default));
        await Assert.ThrowsAsync<PlatformException>(() => Tokens.RefreshAsync(third.RefreshToken, null, default));

        // Another sign-in starts a new family that works.
        TokenPair fresh = await Tokens.IssueAsync(user, default);
        await Tokens.RefreshAsync(fresh.RefreshToken, null, default);
    }

    [DbFact]
    public async Task AccessToken_ExpiresAfterItsLifetime()
    {
        User user = await Accounts.SignUpAsync("yoon@example.com", Password, "Yoon");
        TokenPair pair = await Tokens.IssueAsync(user, default);
        Platform.Time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(user.Id, await Tokens.ValidateAccessTokenAsync(pair.AccessToken));
        Platform.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await Tokens.ValidateAccessTokenAsync(pair.AccessToken));
        Assert.Null(await Tokens.ValidateAccessTokenAsync(pair.AccessToken[..^2] + "xx"));
    }

    [DbFact]
    public async Task AccessToken_ConfiguredSigningKey_SignsTokensThatTheDatabaseKeyDoesNotVerify()
    {
        User user = await Accounts.SignUpAsync("kwon@example.com", Password, "Kwon");
        TokenPair fromDatabaseKey = await Tokens.IssueAsync(user, default);
        await using TestPlatform configured = await TestPlatform.StartAsync(Kind,
            new Hosting.PlatformOptions { JwtSigningKey = "a signing key from the secret store, 44 chars" }, database: Platform.Services.Database.Kind == DatabaseKind.Sqlite ? Platform.Services.Database.SqlitePath : Platform.Services.Database.ConnectionString);
        var tokens = configured.Get<TokenService>();
        TokenPair fromConfigured = await tokens.IssueAsync(user, default);
        Assert.Equal(user.Id, await tokens.ValidateAccessTokenAsync(fromConfigured.AccessToken));
        Assert.Null(await tokens.ValidateAccessTokenAsync(fromDatabaseKey.AccessToken));
        Assert.Null(await Tokens.ValidateAccessTokenAsync(fromConfigured.AccessToken));
        Assert.Contains("JwtSigningKey", string.Join(" ", new Hosting.PlatformOptions { JwtSigningKey = "short" }.Validate()), StringComparison.Ordinal);
    }

    private static string TokenIn(string mail) => TokenPattern().Match(mail).Value;

    [GeneratedRegex("rst_[A-Za-z0-9_-]{43}")]
    private static partial Regex TokenPattern();
}

public sealed class AccountTestsSqlite : AccountTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class AccountTestsPostgres : AccountTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

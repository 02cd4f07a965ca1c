using Inference.Platform.Accounts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Inference.Platform.Hosting;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    /// <summary>
    /// Sets the session cookie (HttpOnly) and the CSRF cookie scripts echo in <see cref="CsrfHeader"/>: SameSite=Strict,
    /// Secure on TLS or when <see cref="PlatformOptions.SecureCookies"/> says so (behind a TLS-terminating proxy).
    /// </summary>
    internal static void AppendSessionCookies(HttpContext ctx, Session session, PlatformOptions options)
    {
        bool secure = options.SecureCookies || ctx.Request.IsHttps;
        ctx.Response.Cookies.Append(SessionCookie, session.Token, new CookieOptions
        {
            HttpOnly = true, Secure = secure, SameSite = SameSiteMode.Strict, Path = "/", Expires = session.ExpiresAt, IsEssential = true,
        });
        ctx.Response.Cookies.Append(CsrfCookie, session.CsrfToken, new CookieOptions
        {
            HttpOnly = false, Secure = secure, SameSite = SameSiteMode.Strict, Path = "/", Expires = session.ExpiresAt, IsEssential = true,
        });
    }

    private static void MapAuth(RouteGroupBuilder api)
    {
        api.MapPost("/auth/signup", async (HttpContext ctx, AccountService accounts) =>
        {
            var body = await ReadAsync<SignUpRequest>(ctx).ConfigureAwait(false);
            User user = await accounts.SignUpAsync(body.Email, body.Password, body.Name, ip: Ip(ctx), ct: ctx.RequestAborted).ConfigureAwait(false);
            return Json(user, StatusCodes.Status201Created);
        }).Accepts<SignUpRequest>("application/json").Produces<User>(StatusCodes.Status201Created).RequireRateLimiting(AuthRateLimit).WithSummary("Create an account");

        api.MapPost("/auth/token", async (HttpContext ctx, AccountService accounts, TokenService tokens, PlatformOptions options) =>
        {
            var body = await ReadAsync<TokenRequest>(ctx).ConfigureAwait(false);
            User user = await accounts.SignInAsync(body.Email, body.Password, body.TotpCode, body.RecoveryCode, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(await tokens.IssueAsync(user, ctx.RequestAborted).ConfigureAwait(false), options));
        }).Accepts<TokenRequest>("application/json").Produces<TokenResponse>().RequireRateLimiting(AuthRateLimit).WithSummary("Sign in: an access token and a refresh token");

        api.MapPost("/auth/refresh", async (HttpContext ctx, TokenService tokens, PlatformOptions options) =>
        {
            var body = await ReadAsync<RefreshRequest>(ctx).ConfigureAwait(false);
            return Json(ToResponse(await tokens.RefreshAsync(body.RefreshToken, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false), options));
        }).Accepts<RefreshRequest>("application/json").Produces<TokenResponse>().WithSummary("Rotate a refresh token (a reused one revokes its family)");

        api.MapPost("/auth/revoke", async (HttpContext ctx, TokenService tokens) =>
        {
            var body = await ReadAsync<RefreshRequest>(ctx).ConfigureAwait(false);
            await tokens.RevokeAsync(body.RefreshToken, ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Accepts<RefreshRequest>("application/json").Produces(StatusCodes.Status204NoContent).WithSummary("Sign out: revoke a refresh token's family");

        api.MapPost("/auth/session", async (HttpContext ctx, AccountService accounts, TokenService tokens, PlatformOptions options) =>
        {
            var body = await ReadAsync<TokenRequest>(ctx).ConfigureAwait(false);
            User user = await accounts.SignInAsync(body.Email, body.Password, body.TotpCode, body.RecoveryCode, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            Session session = await tokens.CreateSessionAsync(user, ctx.RequestAborted).ConfigureAwait(false);
            AppendSessionCookies(ctx, session, options);
            return Json(new SessionResponse(session.CsrfToken, session.ExpiresAt, user));
        }).Accepts<TokenRequest>("application/json").Produces<SessionResponse>().RequireRateLimiting(AuthRateLimit).WithSummary("Sign in with a session cookie (dashboard)");

        api.MapDelete("/auth/session", async (HttpContext ctx, TokenService tokens) =>
        {
            _ = await CallerAsync(ctx).ConfigureAwait(false); // checks the CSRF header
            if (ctx.Request.Cookies[SessionCookie] is { Length: > 0 } cookie)
            {
                await tokens.EndSessionAsync(cookie, ctx.RequestAborted).ConfigureAwait(false);
            }

            ctx.Response.Cookies.Delete(SessionCookie, new CookieOptions { Path = "/" });
            ctx.Response.Cookies.Delete(CsrfCookie, new CookieOptions { Path = "/" });
            return Results.NoContent();
        }).Produces(StatusCodes.Status204NoContent).WithSummary("Sign out of the cookie session");

        api.MapPost("/auth/password-reset", async (HttpContext ctx, AccountService accounts) =>
        {
            var body = await ReadAsync<PasswordResetRequest>(ctx).ConfigureAwait(false);
            await accounts.RequestPasswordResetAsync(body.Email, ctx.RequestAborted).ConfigureAwait(false);
            return Results.Accepted();
        }).Accepts<PasswordResetRequest>("application/json").Produces(StatusCodes.Status202Accepted).RequireRateLimiting(AuthRateLimit).WithSummary("Mail a one-time reset token (answers the same whether or not the account exists)");

        api.MapPost("/auth/password-reset/confirm", async (HttpContext ctx, AccountService accounts) =>
        {
            var body = await ReadAsync<PasswordResetConfirmRequest>(ctx).ConfigureAwait(false);
            await accounts.ResetPasswordAsync(body.Token, body.NewPassword, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Accepts<PasswordResetConfirmRequest>("application/json").Produces(StatusCodes.Status204NoContent).RequireRateLimiting(AuthRateLimit).WithSummary("Set a new password with a reset token");

        api.MapGet("/me", async (HttpContext ctx, CancellationToken ct) => Json(await CallerAsync(ctx).ConfigureAwait(false)))
            .Produces<User>().WithSummary("The signed-in user");

        api.MapPost("/me/password", async (HttpContext ctx, AccountService accounts) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<PasswordChangeRequest>(ctx).ConfigureAwait(false);
            await accounts.ChangePasswordAsync(user.Id, body.CurrentPassword, body.NewPassword, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Accepts<PasswordChangeRequest>("application/json").Produces(StatusCodes.Status204NoContent).RequireRateLimiting(AuthRateLimit)
            .WithSummary("Change the password (ends every session and refresh token; sign in again)");

        api.MapGet("/me/audit", async (HttpContext ctx, int? limit, string? before, Audit.AuditLog audit) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            if (limit is < 1 or > 1000)
            {
                throw PlatformException.Invalid("limit", "limit must be 1 to 1000.");
            }

            return Json(new ListResponse<Audit.AuditEvent>(await audit.ListForUserAsync(user.Id, limit ?? 100, before, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<Audit.AuditEvent>>().WithSummary("Your own account's security events (sign-ins, failures, lockouts, 2FA), newest first");

        api.MapPost("/me/2fa", async (HttpContext ctx, AccountService accounts) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var (secret, uri) = await accounts.BeginTotpAsync(user.Id, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new TotpBeginResponse(secret, uri));
        }).Produces<TotpBeginResponse>().WithSummary("Start TOTP enrolment");

        api.MapPost("/me/2fa/confirm", async (HttpContext ctx, AccountService accounts) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<CodeRequest>(ctx).ConfigureAwait(false);
            return Json(new RecoveryCodesResponse(await accounts.ConfirmTotpAsync(user.Id, body.Code, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false)));
        }).Accepts<CodeRequest>("application/json").Produces<RecoveryCodesResponse>().WithSummary("Turn TOTP on with a first code; returns recovery codes (shown once)");

        api.MapPost("/me/2fa/disable", async (HttpContext ctx, AccountService accounts) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<PasswordRequest>(ctx).ConfigureAwait(false);
            await accounts.DisableTotpAsync(user.Id, body.Password, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Accepts<PasswordRequest>("application/json").Produces(StatusCodes.Status204NoContent).RequireRateLimiting(AuthRateLimit).WithSummary("Turn TOTP off (needs the password)");
    }

    private static TokenResponse ToResponse(TokenPair pair, PlatformOptions options) =>
        new(pair.AccessToken, "Bearer", (long)options.AccessTokenLifetime.TotalSeconds, pair.RefreshToken, pair.RefreshExpiresAt);
}

using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages;

[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(ManagementApi.AuthRateLimit)] // one budget per address with the API's sign-in endpoints
public sealed class SignInModel : PageModel
{
    public string? Error { get; private set; }

    public string? Email { get; private set; }

    public bool NeedsCode { get; private set; }

    public string ReturnUrl { get; private set; } = "/dashboard";

    public void OnGet(string? returnUrl) => ReturnUrl = SafeReturn(returnUrl);

    public async Task<IActionResult> OnPostAsync(string? email, string? password, string? code, string? returnUrl)
    {
        Email = email;
        ReturnUrl = SafeReturn(returnUrl);
        var services = HttpContext.RequestServices;
        try
        {
            // A code is tried as TOTP when it is 6 digits, else as a recovery code.
            bool totp = code is { Length: 6 } && code.All(char.IsAsciiDigit);
            User user = await services.GetRequiredService<AccountService>().SignInAsync(email, password, totp ? code : null, totp || string.IsNullOrWhiteSpace(code) ? null : code.Trim(),
                HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted).ConfigureAwait(false);
            Session session = await services.GetRequiredService<TokenService>().CreateSessionAsync(user, HttpContext.RequestAborted).ConfigureAwait(false);
            ManagementApi.AppendSessionCookies(HttpContext, session, services.GetRequiredService<PlatformOptions>());
            return LocalRedirect(ReturnUrl);
        }
        catch (PlatformException ex)
        {
            NeedsCode = ex.Code is "two_factor_required" or "invalid_second_factor";
            Error = ex.Code == "two_factor_required" ? T("Enter the code from your authenticator app.") : ex.Message;
            Response.StatusCode = NeedsCode && ex.Code == "two_factor_required" ? 200 : (int)ex.Status;
            return Page();
        }
    }

    /// <summary>Only a path on this site (no //host, no scheme): an open redirect would send users anywhere.</summary>
    internal static string SafeReturn(string? returnUrl) =>
        returnUrl is { Length: > 1 } r && r[0] == '/' && r[1] != '/' && r[1] != '\\' ? r : "/dashboard";
}

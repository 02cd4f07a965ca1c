using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Pages;

/// <summary>The page the reset mail links to: the one-time token from the link and a new password.</summary>
[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(ManagementApi.AuthRateLimit)] // one budget per address with the API's sign-in endpoints
public sealed class ResetPasswordModel : PageModel
{
    [FromQuery(Name = "token")]
    public string? Token { get; set; }

    public bool Done { get; private set; }

    public string? Error { get; private set; }

    public void OnGet()
    {
    }

    public async Task OnPostAsync(string? token, string? password)
    {
        Token = token;
        try
        {
            await HttpContext.RequestServices.GetRequiredService<AccountService>().ResetPasswordAsync(token, password, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted).ConfigureAwait(false);
            Done = true;
        }
        catch (PlatformException ex)
        {
            Error = ex.Message;
            Response.StatusCode = (int)ex.Status;
        }
    }
}

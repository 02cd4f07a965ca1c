using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Pages;

/// <summary>Asks for a reset link; answers the same whether or not the account exists (no account discovery).</summary>
[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(ManagementApi.AuthRateLimit)] // one budget per address with the API's sign-in endpoints
public sealed class ForgotPasswordModel : PageModel
{
    public bool Sent { get; private set; }

    public string? Error { get; private set; }

    public void OnGet()
    {
    }

    public async Task OnPostAsync(string? email)
    {
        try
        {
            await HttpContext.RequestServices.GetRequiredService<AccountService>().RequestPasswordResetAsync(email, HttpContext.RequestAborted).ConfigureAwait(false);
            Sent = true;
        }
        catch (PlatformException ex)
        {
            Error = ex.Message;
            Response.StatusCode = (int)ex.Status;
        }
    }
}

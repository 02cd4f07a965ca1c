using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Hosting;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Pages;

[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(ManagementApi.AuthRateLimit)] // one budget per address with the API's sign-in endpoints
public sealed class SignUpModel : PageModel
{
    public string? Error { get; private set; }

    public string? Name { get; private set; }

    public string? Email { get; private set; }

    public string? Organization { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(string? name, string? email, string? password, string? organization)
    {
        (Name, Email, Organization) = (name, email, organization);
        var services = HttpContext.RequestServices;
        string? ip = HttpContext.Connection.RemoteIpAddress?.ToString();
        try
        {
            if (string.IsNullOrWhiteSpace(organization))
            {
                throw PlatformException.Invalid("organization", "Give the organization a name.");
            }

            User user = await services.GetRequiredService<AccountService>().SignUpAsync(email, password, name, ip: ip, ct: HttpContext.RequestAborted).ConfigureAwait(false);
            await services.GetRequiredService<OrganizationService>().CreateAsync(user, organization, ip, HttpContext.RequestAborted).ConfigureAwait(false);
            Session session = await services.GetRequiredService<TokenService>().CreateSessionAsync(user, HttpContext.RequestAborted).ConfigureAwait(false);
            ManagementApi.AppendSessionCookies(HttpContext, session, services.GetRequiredService<PlatformOptions>());
            return LocalRedirect("/dashboard");
        }
        catch (PlatformException ex)
        {
            Error = ex.Message;
            Response.StatusCode = (int)ex.Status;
            return Page();
        }
    }
}

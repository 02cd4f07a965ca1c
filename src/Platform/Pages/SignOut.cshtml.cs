using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Pages;

/// <summary>POST only (a link that signs out would let any page sign a user out).</summary>
public sealed class SignOutModel : PageModel
{
    public IActionResult OnGet() => Redirect("/dashboard");

    public async Task<IActionResult> OnPostAsync()
    {
        if (Request.Cookies[ManagementApi.SessionCookie] is { Length: > 0 } cookie)
        {
            await HttpContext.RequestServices.GetRequiredService<TokenService>().EndSessionAsync(cookie, HttpContext.RequestAborted).ConfigureAwait(false);
        }

        Response.Cookies.Delete(ManagementApi.SessionCookie, new CookieOptions { Path = "/" });
        Response.Cookies.Delete(ManagementApi.CsrfCookie, new CookieOptions { Path = "/" });
        return Redirect("/signin");
    }
}

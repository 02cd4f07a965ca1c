using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Inference.Platform.Pages;

public sealed class IndexModel : PageModel
{
    public async Task<IActionResult> OnGetAsync() =>
        Redirect(await DashboardPage.SignedInUserAsync(HttpContext).ConfigureAwait(false) is null ? "/signin" : "/dashboard");
}

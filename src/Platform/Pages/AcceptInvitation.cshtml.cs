using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages;

public sealed class AcceptInvitationModel : DashboardPage
{
    [FromQuery(Name = "token")]
    public string? Token { get; set; }

    public void OnGet()
    {
    }

    public Task<IActionResult> OnPostAsync(string? token) => TryAsync(async () =>
    {
        Token = token;
        var (org, _) = await Service<OrganizationService>().AcceptAsync(CurrentUser, token, Ip, Aborted).ConfigureAwait(false);
        Flash(T("You joined {0}.", org.Name));
        return Redirect("/dashboard?org=" + Uri.EscapeDataString(org.Id));
    });
}

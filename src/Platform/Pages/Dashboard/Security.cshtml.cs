using Inference.Platform.Accounts;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages.Dashboard;

public sealed class SecurityModel : DashboardPage
{
    public string? Secret { get; private set; }

    public string? Uri { get; private set; }

    public IReadOnlyList<string>? RecoveryCodes { get; private set; }

    public void OnGet()
    {
    }

    public Task<IActionResult> OnPostBeginAsync() => TryAsync(async () =>
    {
        (Secret, Uri) = await Service<AccountService>().BeginTotpAsync(CurrentUser.Id, Aborted).ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostConfirmAsync(string? code) => TryAsync(async () =>
    {
        RecoveryCodes = await Service<AccountService>().ConfirmTotpAsync(CurrentUser.Id, code, Ip, Aborted).ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostDisableAsync(string? password) => TryAsync(async () =>
    {
        await Service<AccountService>().DisableTotpAsync(CurrentUser.Id, password, Ip, Aborted).ConfigureAwait(false);
        Flash(T("Two-factor authentication is off."));
        return RedirectToPage();
    });
}

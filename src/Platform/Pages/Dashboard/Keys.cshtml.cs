using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages.Dashboard;

public sealed class KeysModel : DashboardPage
{
    public IReadOnlyList<KeyInfo> Keys { get; private set; } = [];

    public string? NewSecret { get; private set; }

    public Task OnGetAsync() => LoadAsync();

    public Task<IActionResult> OnPostCreateAsync(string? name) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        (KeyInfo key, string secret) = await Service<KeyService>().CreateAsync(CurrentUser, RequireOrg().Id, name, null, null, Ip, Aborted).ConfigureAwait(false);
        await Service<PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        NewSecret = secret;
        Notice = T("Key {0} created.", key.Name);
        await LoadAsync().ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostRevokeAsync(string? id) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        KeyInfo key = await Service<KeyService>().RevokeAsync(CurrentUser, RequireOrg().Id, id ?? "", Ip, Aborted).ConfigureAwait(false);
        await Service<PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        Flash(T("Key {0} revoked.", key.Name));
        return RedirectToPage();
    });

    protected override Task OnErrorAsync() => LoadAsync();

    private async Task LoadAsync()
    {
        if (Org is not null && Can(Permission.ReadKeys))
        {
            Keys = await Service<KeyService>().ListAsync(Org.Id, Aborted).ConfigureAwait(false);
        }
    }
}

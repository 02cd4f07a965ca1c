using Inference.Platform.Apps;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;

namespace Inference.Platform.Pages.Dashboard.Apps;

public sealed class IndexModel : DashboardPage
{
    public IReadOnlyList<AppDesign> Apps { get; private set; } = [];

    public Task OnGetAsync() => LoadAsync();

    public Task<IActionResult> OnPostCreateAsync(string? name, string? template) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        AppDesign app = await Service<AppService>().CreateFromTemplateAsync(CurrentUser, RequireOrg().Id, name, template, Ip, Aborted).ConfigureAwait(false);
        return Redirect($"/dashboard/apps/{app.App.Id}");
    });

    protected override Task OnErrorAsync() => LoadAsync();

    private async Task LoadAsync()
    {
        if (Org is not null)
        {
            Apps = await Service<AppService>().DesignsAsync(Org.Id, Aborted).ConfigureAwait(false);
        }
    }
}

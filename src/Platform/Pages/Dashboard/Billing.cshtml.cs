using Inference.Platform.Billing;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;

namespace Inference.Platform.Pages.Dashboard;

public sealed class BillingModel : DashboardPage
{
    public Plan Plan { get; private set; } = Plans.Free;

    public Invoice? Draft { get; private set; }

    public IReadOnlyList<Invoice> Invoices { get; private set; } = [];

    public IReadOnlyList<BudgetAlert> Alerts { get; private set; } = [];

    public Task<IActionResult> OnGetAsync() => TryAsync(async () =>
    {
        await LoadAsync().ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostPlanAsync(string? plan) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageBilling).ConfigureAwait(false);
        Organizations.Organization org = await Service<OrganizationService>().SetPlanAsync(CurrentUser, RequireOrg().Id, plan, Ip, Aborted).ConfigureAwait(false);
        await Service<Keys.PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        Flash(UiText.T("Plan changed to {0}.", (Plans.Find(org.Plan) ?? Plans.Free).Name));
        return RedirectToPage();
    });

    public Task<IActionResult> OnPostBudgetAsync(long? budget, bool hardStop) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageBilling).ConfigureAwait(false);
        Organizations.Organization current = RequireOrg();
        await Service<OrganizationService>().SetBudgetAsync(CurrentUser, current.Id, budget, hardStop, current.WebhookUrl, Ip, Aborted).ConfigureAwait(false);
        await Service<Keys.PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        Flash(UiText.T("Budget saved."));
        return RedirectToPage();
    });

    protected override async Task OnErrorAsync()
    {
        try
        {
            await LoadAsync().ConfigureAwait(false);
        }
        catch (Api.PlatformException)
        {
            // the error alone is shown
        }
    }

    private async Task LoadAsync()
    {
        await RequireAsync(Permission.ReadBilling).ConfigureAwait(false);
        string orgId = RequireOrg().Id;
        Plan = Plans.Find(RequireOrg().Plan) ?? Plans.Free;
        Draft = await Service<InvoiceService>().DraftAsync(orgId, UsageLedger.PeriodOf(Service<TimeProvider>().GetUtcNow()), Aborted).ConfigureAwait(false);
        Invoices = await Service<InvoiceService>().ListAsync(orgId, Aborted).ConfigureAwait(false);
        Alerts = await Service<BudgetMonitor>().ListAsync(orgId, Aborted).ConfigureAwait(false);
    }
}

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
        await RequireAsync(Permission.ReadBilling).ConfigureAwait(false);
        string orgId = RequireOrg().Id;
        Plan = Plans.Find(RequireOrg().Plan) ?? Plans.Free;
        Draft = await Service<InvoiceService>().DraftAsync(orgId, UsageLedger.PeriodOf(Service<TimeProvider>().GetUtcNow()), Aborted).ConfigureAwait(false);
        Invoices = await Service<InvoiceService>().ListAsync(orgId, Aborted).ConfigureAwait(false);
        Alerts = await Service<BudgetMonitor>().ListAsync(orgId, Aborted).ConfigureAwait(false);
        return Page();
    });
}

using Inference.Platform.Apps;
using Inference.Platform.Billing;
using Inference.Platform.Web;

namespace Inference.Platform.Pages.Dashboard;

public sealed class IndexModel : DashboardPage
{
    public long MonthRequests { get; private set; }

    public long MonthTokens { get; private set; }

    public int AppCount { get; private set; }

    public string PlanName { get; private set; } = "";

    public async Task OnGetAsync()
    {
        if (Org is null)
        {
            return;
        }

        DateTimeOffset now = Service<TimeProvider>().GetUtcNow();
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var days = await Service<UsageLedger>().DailyAsync(Org.Id, monthStart, now.AddDays(1), Aborted).ConfigureAwait(false);
        MonthRequests = days.Sum(d => d.Requests);
        MonthTokens = days.Sum(d => d.PromptTokens + d.CompletionTokens);
        AppCount = (await Service<AppService>().DesignsAsync(Org.Id, Aborted).ConfigureAwait(false)).Count;
        PlanName = (Plans.Find(Org.Plan) ?? Plans.Free).Name;
    }
}

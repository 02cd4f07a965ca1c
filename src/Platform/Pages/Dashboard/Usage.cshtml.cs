using Inference.Platform.Apps;
using Inference.Platform.Billing;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;

namespace Inference.Platform.Pages.Dashboard;

public sealed class UsageModel : DashboardPage
{
    [FromQuery(Name = "app")]
    public string? AppId { get; set; }

    public IReadOnlyList<AppDesign> Apps { get; private set; } = [];

    public IReadOnlyList<UsageDay> Days { get; private set; } = [];

    public IReadOnlyList<LatencyDay> Latency { get; private set; } = [];

    public IReadOnlyList<(DateOnly Day, long SpendKrw)> Spend { get; private set; } = [];

    public string TokensChart { get; private set; } = "{}";

    public string RequestsChart { get; private set; } = "{}";

    public string LatencyChart { get; private set; } = "{}";

    public string SpendChart { get; private set; } = "{}";

    public Task<IActionResult> OnGetAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ReadUsage).ConfigureAwait(false);
        string orgId = RequireOrg().Id;
        AppId = string.IsNullOrEmpty(AppId) ? null : AppId;
        Apps = await Service<AppService>().DesignsAsync(orgId, Aborted).ConfigureAwait(false);
        if (AppId is not null)
        {
            _ = await Service<AppService>().GetAsync(orgId, AppId, Aborted).ConfigureAwait(false); // 404 for another organization's app
        }

        DateTimeOffset now = Service<TimeProvider>().GetUtcNow();
        DateTimeOffset end = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);
        DateTimeOffset start = end.AddDays(-30);
        UsageLedger ledger = Service<UsageLedger>();
        Days = Fill(await ledger.DailyAsync(orgId, start, end, Aborted, AppId).ConfigureAwait(false), DateOnly.FromDateTime(start.UtcDateTime), DateOnly.FromDateTime(now.UtcDateTime));
        Latency = await ledger.LatencyAsync(orgId, start, end, Aborted, AppId).ConfigureAwait(false);
        var monthStart = new DateOnly(now.Year, now.Month, 1);
        var month = await ledger.DailyAsync(orgId, new DateTimeOffset(monthStart.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), end, Aborted).ConfigureAwait(false);
        Spend = UsageCharts.CumulativeSpend(Plans.Find(RequireOrg().Plan) ?? Plans.Free, month, monthStart, DateOnly.FromDateTime(now.UtcDateTime));
        TokensChart = UsageCharts.Tokens(Days);
        RequestsChart = UsageCharts.Requests(Days);
        LatencyChart = UsageCharts.Latency(Latency);
        SpendChart = UsageCharts.Spend(Spend, RequireOrg().BudgetKrw);
        return Page();
    });

    // Every day of the range, zero where nothing ran (a chart with gaps reads as missing data).
    private static List<UsageDay> Fill(IReadOnlyList<UsageDay> days, DateOnly from, DateOnly to)
    {
        var byDay = days.ToDictionary(d => d.Day);
        var all = new List<UsageDay>();
        for (DateOnly d = from; d <= to; d = d.AddDays(1))
        {
            all.Add(byDay.GetValueOrDefault(d) ?? new UsageDay(d, 0, 0, 0, 0, 0));
        }

        return all;
    }
}

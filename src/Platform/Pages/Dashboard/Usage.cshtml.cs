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

    /// <summary>The app's billable tokens this month (when one app is shown).</summary>
    public long AppMonthTokens { get; private set; }

    /// <summary>The app's share of this month's spend, in won (when one app is shown).</summary>
    public long AppSpendKrw { get; private set; }

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
        if (AppId is not null)
        {
            // An app's spend is its share of the organization's: its billable tokens over all billable tokens this month
            // (the plan's fee and included tokens are the organization's, not any one app's).
            var appMonth = await ledger.DailyAsync(orgId, new DateTimeOffset(monthStart.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), end, Aborted, AppId).ConfigureAwait(false);
            long appTokens = appMonth.Sum(d => d.BillableTokens), orgTokens = month.Sum(d => d.BillableTokens);
            AppMonthTokens = appTokens;
            AppSpendKrw = orgTokens == 0 || Spend.Count == 0 ? 0 : (long)Math.Round((decimal)Spend[^1].SpendKrw * appTokens / orgTokens);
        }

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

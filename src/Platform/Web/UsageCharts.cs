using System.Globalization;
using System.Text.Json;
using Inference.Platform.Billing;

namespace Inference.Platform.Web;

/// <summary>Chart.js configurations (JSON) of the usage page: built on the server from the ledger, drawn by the pinned library.</summary>
public static class UsageCharts
{
    private static readonly int[] Dash = [6, 4];

    public static string Tokens(IReadOnlyList<UsageDay> days) => Serialize(new
    {
        type = "bar",
        data = new
        {
            labels = days.Select(d => Label(d.Day)),
            datasets = new object[]
            {
                new { label = UiText.T("Prompt tokens"), data = days.Select(d => d.PromptTokens), backgroundColor = "#1d4ed8", stack = "t" },
                new { label = UiText.T("Completion tokens"), data = days.Select(d => d.CompletionTokens), backgroundColor = "#f59e0b", stack = "t" },
            },
        },
        options = new { scales = new { x = new { stacked = true }, y = new { stacked = true, beginAtZero = true } } },
    });

    public static string Requests(IReadOnlyList<UsageDay> days) => Serialize(new
    {
        type = "bar",
        data = new
        {
            labels = days.Select(d => Label(d.Day)),
            datasets = new object[] { new { label = UiText.T("Requests"), data = days.Select(d => d.Requests), backgroundColor = "#0f766e" } },
        },
        options = new { scales = new { y = new { beginAtZero = true, ticks = new { precision = 0 } } } },
    });

    public static string Latency(IReadOnlyList<LatencyDay> days) => Serialize(new
    {
        type = "line",
        data = new
        {
            labels = days.Select(d => Label(d.Day)),
            datasets = new object[]
            {
                new { label = UiText.T("TTFT p50 (ms)"), data = days.Select(d => d.TtftP50), borderColor = "#1d4ed8", backgroundColor = "#1d4ed8" },
                new { label = UiText.T("TTFT p95 (ms)"), data = days.Select(d => d.TtftP95), borderColor = "#93c5fd", backgroundColor = "#93c5fd" },
                new { label = UiText.T("Latency p50 (ms)"), data = days.Select(d => (double?)d.LatencyP50), borderColor = "#b45309", backgroundColor = "#b45309" },
                new { label = UiText.T("Latency p95 (ms)"), data = days.Select(d => (double?)d.LatencyP95), borderColor = "#fcd34d", backgroundColor = "#fcd34d" },
            },
        },
        options = new { scales = new { y = new { beginAtZero = true } } },
    });

    /// <summary>Spend this month so far, day by day (the plan's fee plus tokens beyond those included), against the budget.</summary>
    public static string Spend(IReadOnlyList<(DateOnly Day, long SpendKrw)> spend, long? budgetKrw) => Serialize(new
    {
        type = "line",
        data = new
        {
            labels = spend.Select(s => Label(s.Day)),
            datasets = budgetKrw is { } budget
                ? new object[]
                {
                    new { label = UiText.T("Spend (KRW)"), data = spend.Select(s => s.SpendKrw), borderColor = "#1d4ed8", backgroundColor = "#1d4ed8" },
                    new { label = UiText.T("Budget (KRW)"), data = spend.Select(_ => budget), borderColor = "#b42318", backgroundColor = "#b42318", borderDash = Dash, pointRadius = 0 },
                }
                : new object[] { new { label = UiText.T("Spend (KRW)"), data = spend.Select(s => s.SpendKrw), borderColor = "#1d4ed8", backgroundColor = "#1d4ed8" } },
        },
        options = new { scales = new { y = new { beginAtZero = true } } },
    });

    /// <summary>Cumulative spend per day of the month: the fee from day one, then overage once the included tokens are used.</summary>
    public static IReadOnlyList<(DateOnly Day, long SpendKrw)> CumulativeSpend(Plan plan, IReadOnlyList<UsageDay> monthDays, DateOnly monthStart, DateOnly today)
    {
        var byDay = monthDays.ToDictionary(d => d.Day, d => d.BillableTokens);
        var result = new List<(DateOnly, long)>();
        long tokens = 0;
        for (DateOnly day = monthStart; day <= today; day = day.AddDays(1))
        {
            tokens += byDay.GetValueOrDefault(day);
            long over = Math.Max(0, tokens - plan.IncludedTokens);
            result.Add((day, plan.MonthlyFeeKrw + (long)decimal.Ceiling(over * (decimal)plan.OveragePer1kTokensKrw / 1000m)));
        }

        return result;
    }

    private static string Label(DateOnly day) => day.ToString("MM-dd", CultureInfo.InvariantCulture);

    // The default encoder escapes <, >, & and quotes: the JSON is safe inside <script type="application/json">.
    private static string Serialize(object value) => JsonSerializer.Serialize(value);
}

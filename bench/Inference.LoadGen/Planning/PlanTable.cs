namespace Inference.LoadGen.Planning;

/// <summary>The phase table's columns, defined once for the console and the Markdown report.</summary>
internal static class PlanTable
{
    /// <summary>One column: header, alignment, cell, and whether the (narrower) console table shows it.</summary>
    internal sealed record Column(string Header, bool RightAligned, Func<PhasePlan, string> Cell, bool InConsole);

    /// <summary>The columns for a plan in <paramref name="currency"/>, with a budget column when there is a budget.</summary>
    public static IReadOnlyList<Column> Columns(string currency, bool hasBudget)
    {
        var columns = new List<Column>
        {
            new("Phase", false, p => p.Phase.Name, true),
            new("Users", true, p => PlanFormat.Whole(p.Phase.ConcurrentUsers), true),
            new("Avg req/s", true, p => PlanFormat.Rate(p.AverageRequestRate), true),
            new("Peak req/s", true, p => PlanFormat.Rate(p.PeakRequestRate), true),
            new("GPUs", true, p => PlanFormat.Whole(p.Gpus), true),
            new("Util avg", true, p => PlanFormat.Percent(p.UtilisationAverage), true),
            new("Util peak", true, p => PlanFormat.Percent(p.UtilisationPeak), true),
            new("W/GPU", true, p => PlanFormat.Whole(p.WattsPerGpu), true),
            new("kWh/month", true, p => PlanFormat.Whole(p.EnergyKwhPerMonth), true),
            new($"Hardware {currency}/month", true, p => PlanFormat.Money(p.HardwareCostPerMonth), false),
            new($"Electricity {currency}/month", true, p => PlanFormat.Money(p.ElectricityCostPerMonth), false),
            new($"Extras {currency}/month", true, p => PlanFormat.Money(p.CloudCostPerMonth), false),
            new($"Cost {currency}/month", true, p => PlanFormat.Money(p.TotalCostPerMonth), true),
            new($"{currency}/1k req", true, p => PlanFormat.Money(p.CostPerThousandRequests), true),
            new($"{currency}/1M out tok", true, p => PlanFormat.Money(p.CostPerMillionOutputTokens), true),
        };
        if (hasBudget)
        {
            columns.Add(new Column("Budget", false, p => p.FitsBudget == true ? "fits" : "over", true));
        }

        columns.Add(new Column("Flags", false, p => string.Join(", ", p.Flags), true));
        return columns;
    }

    /// <summary>What each flag means, for the legend under every table.</summary>
    public static IReadOnlyList<string> Legend(PlanInputs inputs) =>
    [
        $"below band: average utilisation under the target band {PlanFormat.Number(inputs.TargetLow)}–{PlanFormat.Number(inputs.TargetHigh)} "
            + "(GPUs sized for the peak idle on average)",
        $"above band: average utilisation over {PlanFormat.Number(inputs.TargetHigh)}",
        $"peak over max: peak utilisation over max utilisation {PlanFormat.Number(inputs.MaxUtilisation)} (cannot happen by construction)",
    ];
}

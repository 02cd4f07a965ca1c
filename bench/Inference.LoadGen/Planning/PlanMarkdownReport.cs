using System.Globalization;
using System.Text;

namespace Inference.LoadGen.Planning;

/// <summary>The plan as Markdown: the chart, the phase table, capacity, notes, every assumption, and the method.</summary>
internal static class PlanMarkdownReport
{
    /// <summary>The Markdown text; <paramref name="chartFile"/> is the SVG's name next to it.</summary>
    public static string Render(PlanResult result, string chartFile, string commandLine)
    {
        PlanInputs inputs = result.Inputs;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# {Escape(inputs.Title)}");
        md.AppendLine();
        md.Append(CultureInfo.InvariantCulture, $"GPUs and monthly cost per growth phase on {Escape(inputs.GpuName)}, computed by `bench plan`");
        md.AppendLine(inputs.PlanFile is null ? "." : $" from plan file `{inputs.PlanFile}`.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Command: `{commandLine}`");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"![GPUs and monthly cost per phase]({chartFile})");
        md.AppendLine();

        md.AppendLine("## Phases");
        md.AppendLine();
        IReadOnlyList<PlanTable.Column> columns = PlanTable.Columns(inputs.Currency, inputs.MonthlyBudget is not null);
        md.AppendLine("| " + string.Join(" | ", columns.Select(c => Escape(c.Header))) + " |");
        md.AppendLine("|" + string.Concat(columns.Select(c => c.RightAligned ? " ---: |" : " --- |")));
        foreach (PhasePlan phase in result.Phases)
        {
            md.AppendLine("| " + string.Join(" | ", columns.Select(c => Escape(c.Cell(phase)))) + " |");
        }

        md.AppendLine();
        md.AppendLine("Flags:");
        md.AppendLine();
        foreach (string line in PlanTable.Legend(inputs))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {Escape(line)}");
        }

        md.AppendLine();
        md.AppendLine("## Capacity");
        md.AppendLine();
        foreach (string line in PlanConsoleReport.CapacityLines(result))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {Escape(line.Trim())}");
        }

        if (result.Notes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Notes");
            md.AppendLine();
            foreach (string note in result.Notes)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {Escape(note)}");
            }
        }

        md.AppendLine();
        md.AppendLine("## Assumptions");
        md.AppendLine();
        md.AppendLine("Every value the plan rests on, and where it came from (command line over sweep file over plan file over default).");
        md.AppendLine();
        md.AppendLine("| Assumption | Value | Source | What it is | Note |");
        md.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (Assumption a in inputs.Assumptions)
        {
            string source = a.Source is SettingSource.Default or SettingSource.Model ? a.SourceText : $"{a.SourceText} (`{a.Origin}`)";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| `{a.Key}` | {Escape(PlanConsoleReport.ValueWithUnit(a))} | {Escape(source)} | {Escape(a.Description)} | {Escape(a.Note ?? string.Empty)} |");
        }

        md.AppendLine();
        md.AppendLine("## Method");
        md.AppendLine();
        md.AppendLine("- average req/s = concurrent users × requests per user per minute / 60; peak req/s = average × peak factor");
        md.AppendLine("- work per request = output tokens + prefill weight × input tokens; capacity at the forecast shape = measured capacity × work(measured) / work(forecast)");
        md.AppendLine("- GPUs = max(1, ceil(peak / (capacity × max utilisation))); utilisation = rate / (GPUs × capacity), at the average and at the peak");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"- power per GPU = idle + (TDP − idle) × average utilisation + host watts; energy per month = GPUs × power × PUE × {PlanFormat.Number(PlanCalculator.HoursPerMonth)} h / 1000");
        md.AppendLine("- monthly cost = GPUs × (GPU price + host share) / amortisation months + energy × electricity price + GPUs × extras per GPU + fixed extras");
        md.AppendLine("- cost per 1,000 requests and per million output tokens: monthly cost over the requests and generated tokens of a month at the average rate");
        return md.ToString();
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}

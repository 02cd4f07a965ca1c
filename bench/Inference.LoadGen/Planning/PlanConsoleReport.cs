using System.Globalization;
using System.Text;

namespace Inference.LoadGen.Planning;

/// <summary>The plan as text for a terminal: capacity, phase table, flags, notes, and every assumption.</summary>
internal static class PlanConsoleReport
{
    private const int MaxValueWidth = 64;

    /// <summary>Writes <paramref name="result"/> to <paramref name="output"/>; <paramref name="reports"/> are the files written.</summary>
    public static void Write(PlanResult result, TextWriter output, IReadOnlyList<string> reports)
    {
        PlanInputs inputs = result.Inputs;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{inputs.Title}: GPUs and monthly cost per growth phase ({inputs.GpuName})");
        if (inputs.PlanFile is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Plan file: {inputs.PlanFile}");
        }

        if (inputs.SweepFile is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Sweep file: {inputs.SweepFile}");
        }

        text.AppendLine();
        foreach (string line in CapacityLines(result))
        {
            text.AppendLine(line);
        }

        text.AppendLine();
        IReadOnlyList<PlanTable.Column> columns = PlanTable.Columns(inputs.Currency, inputs.MonthlyBudget is not null)
            .Where(c => c.InConsole).ToArray();
        AppendTable(text, columns, result.Phases);
        text.AppendLine();
        text.AppendLine("Flags:");
        foreach (string line in PlanTable.Legend(inputs))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {line}");
        }

        if (result.Notes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Notes:");
            foreach (string note in result.Notes)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  - {note}");
            }
        }

        text.AppendLine();
        text.AppendLine("Assumptions (value, source, note):");
        int keyWidth = inputs.Assumptions.Max(a => a.Key.Length);
        // Long values (a capacity's source text) overflow their column rather than push every other line right.
        int valueWidth = inputs.Assumptions.Select(a => ValueWithUnit(a).Length).Where(n => n <= MaxValueWidth).DefaultIfEmpty(0).Max();
        foreach (Assumption a in inputs.Assumptions)
        {
            string source = a.Source is SettingSource.CommandLine ? $"command line {a.Origin}" : a.SourceText;
            string note = a.Note is null ? string.Empty : $" — {a.Note}";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {a.Key.PadRight(keyWidth)}  {ValueWithUnit(a).PadRight(valueWidth)}  {source}{note}");
        }

        text.AppendLine();
        text.AppendLine(reports.Count == 0
            ? "Reports: none written (give --out DIR for plan.json, plan.md and plan.svg)."
            : "Reports: " + string.Join(", ", reports));
        output.Write(text.ToString());
    }

    /// <summary>The capacity and its conversion in words (the Markdown report uses the same lines).</summary>
    public static IReadOnlyList<string> CapacityLines(PlanResult result)
    {
        PlanInputs inputs = result.Inputs;
        MeasuredCapacity capacity = inputs.Capacity;
        CapacityConversion conversion = result.Conversion;
        var lines = new List<string>
        {
            $"Capacity: {PlanFormat.Number(capacity.RequestRatePerGpu)} req/s per GPU within the SLO at "
                + $"{PlanFormat.Number(capacity.InputTokens)} input / {PlanFormat.Number(capacity.OutputTokens)} output tokens per request",
            $"  source: {capacity.Source}",
        };
        if (capacity.Setting.Count > 0)
        {
            lines.Add("  setting: " + string.Join(", ", capacity.Setting.Select(kv => $"{kv.Key}={kv.Value}")));
        }

        lines.Add(
            $"Forecast: {PlanFormat.Number(inputs.InputTokens)} input / {PlanFormat.Number(inputs.OutputTokens)} output tokens per request; "
            + $"work per request = output + {PlanFormat.Number(inputs.PrefillWeight)} × input = {PlanFormat.Number(conversion.ForecastWork)} "
            + $"(measured shape: {PlanFormat.Number(conversion.MeasuredWork)})");
        lines.Add(
            $"  capacity at the forecast shape: {PlanFormat.Rate(conversion.RequestRatePerGpu)} req/s per GPU; "
            + $"planned at max utilisation {PlanFormat.Number(inputs.MaxUtilisation)}: {PlanFormat.Rate(conversion.PlannedRequestRatePerGpu)} req/s per GPU");
        return lines;
    }

    /// <summary>A value and its unit: "2,000 USD", "0.85".</summary>
    public static string ValueWithUnit(Assumption a) => a.Unit.Length == 0 ? a.Value : $"{a.Value} {a.Unit}";

    private static void AppendTable(StringBuilder text, IReadOnlyList<PlanTable.Column> columns, IReadOnlyList<PhasePlan> phases)
    {
        string[][] cells = phases.Select(p => columns.Select(c => c.Cell(p)).ToArray()).ToArray();
        int[] widths = columns.Select((c, i) => Math.Max(c.Header.Length, cells.Length == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        AppendRow(text, columns, widths, columns.Select(c => c.Header).ToArray());
        text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))).TrimEnd());
        foreach (string[] row in cells)
        {
            AppendRow(text, columns, widths, row);
        }
    }

    private static void AppendRow(StringBuilder text, IReadOnlyList<PlanTable.Column> columns, int[] widths, string[] row)
    {
        var line = new StringBuilder();
        for (int i = 0; i < row.Length; i++)
        {
            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(columns[i].RightAligned ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
        }

        text.AppendLine(line.ToString().TrimEnd());
    }
}

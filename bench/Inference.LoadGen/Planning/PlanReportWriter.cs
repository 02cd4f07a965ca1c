namespace Inference.LoadGen.Planning;

/// <summary>Writes plan.json, plan.md and plan.svg into one folder.</summary>
internal static class PlanReportWriter
{
    public const string JsonFile = "plan.json";
    public const string MarkdownFile = "plan.md";
    public const string ChartFile = "plan.svg";

    /// <summary>Writes the three reports into <paramref name="directory"/> (created if missing); returns their paths.</summary>
    public static IReadOnlyList<string> Write(PlanResult result, string directory, string commandLine)
    {
        Directory.CreateDirectory(directory);
        string json = Path.Combine(directory, JsonFile);
        string markdown = Path.Combine(directory, MarkdownFile);
        string chart = Path.Combine(directory, ChartFile);

        using (FileStream stream = File.Create(json))
        {
            PlanJsonReport.Write(result, stream, commandLine);
        }

        File.WriteAllText(markdown, PlanMarkdownReport.Render(result, ChartFile, commandLine));
        File.WriteAllText(chart, PlanChart.ToSvg(result));
        return [json, markdown, chart];
    }
}

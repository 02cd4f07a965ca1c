namespace Inference.LoadGen.Planning;

/// <summary>One line of a report's assumptions: a value, its unit, and where it came from.</summary>
/// <param name="Key">The setting's plan-file path, or the model constant's name.</param>
/// <param name="Value">The value as shown ("2,000", "RTX 5090", "not given").</param>
/// <param name="Number">The value as a number, when it is one (the JSON report writes it as a number).</param>
/// <param name="Unit">Its unit with the currency filled in; empty when none.</param>
/// <param name="Source">Command line, plan file, sweep file, default or model.</param>
/// <param name="Origin">The option, the file, or "default"/"model".</param>
/// <param name="Description">What the value is.</param>
/// <param name="Note">The plan file's note on it (<c>notes</c>), or the planner's; null when none.</param>
internal sealed record Assumption(
    string Key,
    string Value,
    double? Number,
    string Unit,
    SettingSource Source,
    string Origin,
    string Description,
    string? Note)
{
    /// <summary>The source in words: "command line", "plan file", "sweep file", "default", "model".</summary>
    public string SourceText => SourceName(Source);

    /// <summary>A source in words.</summary>
    public static string SourceName(SettingSource source) => source switch
    {
        SettingSource.CommandLine => "command line",
        SettingSource.PlanFile => "plan file",
        SettingSource.SweepFile => "sweep file",
        SettingSource.Default => "default",
        _ => "model",
    };
}

using System.Text.Json;

namespace Inference.LoadGen.Planning;

/// <summary>
/// Reads the capacity out of a <c>bench sweep</c> result: its object <c>recommended</c> with
/// <c>max_good_request_rate</c>, <c>mean_input_tokens</c>, <c>mean_output_tokens</c> and <c>setting</c> (string values).
/// Other fields are the sweep's own and are not read, so the sweep's format can grow without breaking the planner.
/// </summary>
internal static class SweepFileReader
{
    private const string Recommended = "recommended";

    /// <summary>Reads and checks the file at <paramref name="path"/>.</summary>
    /// <exception cref="PlanInputException">The file is missing, not JSON, or lacks or mistypes a field, naming it.</exception>
    public static MeasuredCapacity Read(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PlanInputException($"sweep file {path}: cannot be read ({e.Message}).");
        }

        return Parse(json, path);
    }

    /// <summary>Parses sweep-result text; <paramref name="path"/> names it in errors and in the capacity's source.</summary>
    public static MeasuredCapacity Parse(string json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new PlanInputException($"sweep file {path}: not valid JSON ({e.Message}).");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty(Recommended, out JsonElement recommended))
            {
                throw new PlanInputException($"sweep file {path}: missing field '{Recommended}'.");
            }

            if (recommended.ValueKind != JsonValueKind.Object)
            {
                throw new PlanInputException(
                    $"sweep file {path}: field '{Recommended}' must be an object, got {PlanFileReader.Describe(recommended)} "
                    + "(did the sweep find no rate within the SLO?).");
            }

            double rate = Number(recommended, "max_good_request_rate", path, PlanSettings.CapacityRate);
            double input = Number(recommended, "mean_input_tokens", path, PlanSettings.CapacityInputTokens);
            double output = Number(recommended, "mean_output_tokens", path, PlanSettings.CapacityOutputTokens);
            List<KeyValuePair<string, string>> setting = Setting(recommended, path);
            return new MeasuredCapacity(rate, input, output, $"bench sweep result {path}", setting);
        }
    }

    private static double Number(JsonElement recommended, string name, string path, PlanSetting setting)
    {
        string field = $"{Recommended}.{name}";
        if (!recommended.TryGetProperty(name, out JsonElement value))
        {
            throw new PlanInputException($"sweep file {path}: missing field '{field}'.");
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number) || !setting.Accepts(number))
        {
            throw new PlanInputException(
                $"sweep file {path}: field '{field}' must be {setting.RangeText}, got {PlanFileReader.Describe(value)}.");
        }

        return number;
    }

    private static List<KeyValuePair<string, string>> Setting(JsonElement recommended, string path)
    {
        string field = $"{Recommended}.setting";
        if (!recommended.TryGetProperty("setting", out JsonElement value))
        {
            throw new PlanInputException($"sweep file {path}: missing field '{field}'.");
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new PlanInputException(
                $"sweep file {path}: field '{field}' must be an object of strings, got {PlanFileReader.Describe(value)}.");
        }

        var setting = new List<KeyValuePair<string, string>>();
        foreach (JsonProperty property in value.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw new PlanInputException(
                    $"sweep file {path}: field '{field}.{property.Name}' must be a string, got {PlanFileReader.Describe(property.Value)}.");
            }

            setting.Add(new KeyValuePair<string, string>(property.Name, property.Value.GetString()!));
        }

        return setting;
    }
}

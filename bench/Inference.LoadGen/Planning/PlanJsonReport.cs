using System.Text.Encodings.Web;
using System.Text.Json;

namespace Inference.LoadGen.Planning;

/// <summary>
/// The plan as JSON (snake_case): <c>assumptions</c> (each value with its source), <c>capacity</c>, <c>phases</c>,
/// <c>notes</c>. Amounts are in <c>currency</c>, rates in requests per second, utilisation as a fraction.
/// </summary>
internal static class PlanJsonReport
{
    /// <summary>Writes <paramref name="result"/> as an indented JSON document to <paramref name="stream"/>.</summary>
    public static void Write(PlanResult result, Stream stream, string commandLine)
    {
        // Relaxed escaping keeps "×", "≥" and quotes readable; the document is a file, never embedded in HTML.
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        PlanInputs inputs = result.Inputs;
        json.WriteStartObject();
        json.WriteString("title", inputs.Title);
        json.WriteString("command", commandLine);
        WriteNullable(json, "plan_file", inputs.PlanFile);
        WriteNullable(json, "sweep_file", inputs.SweepFile);
        json.WriteString("currency", inputs.Currency);
        json.WriteString("gpu", inputs.GpuName);

        json.WriteStartArray("assumptions");
        foreach (Assumption a in inputs.Assumptions)
        {
            json.WriteStartObject();
            json.WriteString("key", a.Key);
            if (a.Number is { } number)
            {
                json.WriteNumber("value", number);
            }
            else
            {
                json.WriteString("value", a.Value);
            }

            json.WriteString("unit", a.Unit);
            json.WriteString("source", a.SourceText);
            json.WriteString("origin", a.Origin);
            json.WriteString("description", a.Description);
            WriteNullable(json, "note", a.Note);
            json.WriteEndObject();
        }

        json.WriteEndArray();

        MeasuredCapacity capacity = inputs.Capacity;
        CapacityConversion conversion = result.Conversion;
        json.WriteStartObject("capacity");
        json.WriteStartObject("measured");
        json.WriteNumber("request_rate_per_gpu", capacity.RequestRatePerGpu);
        json.WriteNumber("input_tokens", capacity.InputTokens);
        json.WriteNumber("output_tokens", capacity.OutputTokens);
        json.WriteNumber("work_per_request", conversion.MeasuredWork);
        json.WriteString("source", capacity.Source);
        json.WriteStartObject("setting");
        foreach (KeyValuePair<string, string> kv in capacity.Setting)
        {
            json.WriteString(kv.Key, kv.Value);
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartObject("forecast");
        json.WriteNumber("input_tokens", inputs.InputTokens);
        json.WriteNumber("output_tokens", inputs.OutputTokens);
        json.WriteNumber("work_per_request", conversion.ForecastWork);
        json.WriteNumber("request_rate_per_gpu", conversion.RequestRatePerGpu);
        json.WriteNumber("planned_request_rate_per_gpu", conversion.PlannedRequestRatePerGpu);
        json.WriteEndObject();
        json.WriteEndObject();

        json.WriteStartArray("phases");
        foreach (PhasePlan p in result.Phases)
        {
            json.WriteStartObject();
            json.WriteString("name", p.Phase.Name);
            json.WriteNumber("concurrent_users", p.Phase.ConcurrentUsers);
            json.WriteNumber("average_request_rate", p.AverageRequestRate);
            json.WriteNumber("peak_request_rate", p.PeakRequestRate);
            json.WriteNumber("gpus", p.Gpus);
            json.WriteNumber("utilisation_average", p.UtilisationAverage);
            json.WriteNumber("utilisation_peak", p.UtilisationPeak);
            json.WriteNumber("watts_per_gpu", p.WattsPerGpu);
            json.WriteNumber("energy_kwh_per_month", p.EnergyKwhPerMonth);
            json.WriteStartObject("cost_per_month");
            json.WriteNumber("hardware", p.HardwareCostPerMonth);
            json.WriteNumber("electricity", p.ElectricityCostPerMonth);
            json.WriteNumber("extras", p.CloudCostPerMonth);
            json.WriteNumber("total", p.TotalCostPerMonth);
            json.WriteEndObject();
            json.WriteNumber("cost_per_1000_requests", p.CostPerThousandRequests);
            json.WriteNumber("cost_per_million_output_tokens", p.CostPerMillionOutputTokens);
            if (p.FitsBudget is { } fits)
            {
                json.WriteBoolean("fits_budget", fits);
            }
            else
            {
                json.WriteNull("fits_budget");
            }

            json.WriteStartArray("flags");
            foreach (string flag in p.Flags)
            {
                json.WriteStringValue(flag);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartArray("notes");
        foreach (string note in result.Notes)
        {
            json.WriteStringValue(note);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}

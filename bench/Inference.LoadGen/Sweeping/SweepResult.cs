using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadGen.Sweeping;

/// <summary>A sweep's outcome: per setting the highest request rate that met the SLO, and the recommended setting
/// (the highest such rate; ties go to the lower end-to-end latency there). Written as sweep.json (read by plan),
/// sweep.md and a latency-vs-throughput chart.</summary>
public sealed class SweepResult
{
    public SweepResult(string directory, IReadOnlyList<Dictionary<string, string>> settings, IReadOnlyList<double> rates, IReadOnlyList<SweepPoint> points, Slo slo, double percentile, double minRatio)
    {
        Directory = directory;
        Slo = slo;
        Percentile = percentile;
        MinThroughputRatio = minRatio;
        Rates = rates;
        Summaries = settings.Select(s =>
        {
            var mine = points.Where(p => SweepState.Same(p.Setting, s)).OrderBy(p => p.Rate).ToList();
            SweepPoint? best = mine.Where(p => p.Meets && !mine.Any(q => q.Rate < p.Rate && !q.Meets)).MaxBy(p => p.Rate);
            return new SettingSummary(s, mine, best);
        }).ToList();
        Recommended = Summaries.Where(s => s.Best is not null)
            .OrderByDescending(s => s.Best!.Rate)
            .ThenBy(s => s.Best!.E2eMs)
            .FirstOrDefault();
    }

    public sealed record SettingSummary(IReadOnlyDictionary<string, string> Setting, IReadOnlyList<SweepPoint> Points, SweepPoint? Best);

    public string Directory { get; }

    public Slo Slo { get; }

    public double Percentile { get; }

    public double MinThroughputRatio { get; }

    public IReadOnlyList<double> Rates { get; }

    public IReadOnlyList<SettingSummary> Summaries { get; }

    public SettingSummary? Recommended { get; }

    public static string Label(IReadOnlyDictionary<string, string> setting) =>
        setting.Count == 0 ? "defaults" : string.Join(' ', setting.Select(kv => $"{kv.Key}={kv.Value}"));

    public string ToConsole()
    {
        var s = new StringBuilder();
        string p = Percentile.ToString(CultureInfo.InvariantCulture);
        s.Append(CultureInfo.InvariantCulture, $"SLO: {Slo} at p{p}; a rate counts when nothing failed and at least {MinThroughputRatio:0.##} of it was served\n");
        s.Append(CultureInfo.InvariantCulture, $"{"setting",-48} {"rate",6} {"req/s",7} {"tok/s",8} {"TTFT p" + p,10} {"E2E p" + p,10}  verdict\n");
        foreach (SettingSummary summary in Summaries)
        {
            foreach (SweepPoint point in summary.Points)
            {
                s.Append(CultureInfo.InvariantCulture, $"{Label(summary.Setting),-48} {point.Rate,6:0.##} {point.RequestThroughput,7:0.00} {point.OutputThroughput,8:0.0} {point.TtftMs,10:0} {point.E2eMs,10:0}  {(point.Meets ? "meets" : "misses: " + point.Reason)}\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"{"",-48} highest rate within the SLO: {(summary.Best is { } b ? b.Rate.ToString("0.##", CultureInfo.InvariantCulture) + " req/s" : "none of those tried")}\n");
        }

        s.Append(Recommended is { } r
            ? $"recommended: {Label(r.Setting)} ({r.Best!.Rate.ToString("0.##", CultureInfo.InvariantCulture)} req/s, {r.Best.OutputThroughput:0} output tok/s within the SLO)\n"
            : "recommended: none (no setting met the SLO at the lowest rate; try lower --rates)\n");
        return s.ToString();
    }

    public JsonObject ToJson()
    {
        static JsonObject Setting(IReadOnlyDictionary<string, string> setting) => new(setting.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        static JsonObject Point(SweepPoint p) => new()
        {
            ["rate"] = p.Rate,
            ["completed"] = p.Completed,
            ["failed"] = p.Failed,
            ["request_throughput"] = p.RequestThroughput,
            ["output_throughput"] = p.OutputThroughput,
            ["request_goodput"] = p.Goodput,
            ["ttft_ms"] = p.TtftMs,
            ["tpot_ms"] = p.TpotMs,
            ["e2el_ms"] = p.E2eMs,
            ["mean_input_tokens"] = p.MeanInputTokens,
            ["mean_output_tokens"] = p.MeanOutputTokens,
            ["meets_slo"] = p.Meets,
            ["reason"] = p.Reason,
        };
        var json = new JsonObject
        {
            ["slo"] = Slo.ToString(),
            ["slo_percentile"] = Percentile,
            ["min_throughput_ratio"] = MinThroughputRatio,
            ["rates"] = new JsonArray(Rates.Select(r => (JsonNode?)r).ToArray()),
            ["settings"] = new JsonArray(Summaries.Select(s => (JsonNode?)new JsonObject
            {
                ["setting"] = Setting(s.Setting),
                ["max_good_request_rate"] = s.Best?.Rate,
                ["points"] = new JsonArray(s.Points.Select(p => (JsonNode?)Point(p)).ToArray()),
            }).ToArray()),
        };
        json["recommended"] = Recommended is { Best: { } best } r ? new JsonObject
        {
            ["setting"] = Setting(r.Setting),
            ["max_good_request_rate"] = best.Rate,
            ["request_throughput"] = best.RequestThroughput,
            ["output_throughput"] = best.OutputThroughput,
            ["mean_input_tokens"] = best.MeanInputTokens,
            ["mean_output_tokens"] = best.MeanOutputTokens,
            ["ttft_ms"] = best.TtftMs,
            ["e2el_ms"] = best.E2eMs,
        } : null;
        return json;
    }

    public void Write()
    {
        File.WriteAllText(Path.Combine(Directory, "sweep.json"), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        string p = Percentile.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(Directory, "latency_vs_throughput.svg"), Charts.Lines(
            $"p{p} end-to-end latency against served throughput, per setting", "output tokens/s", $"p{p} E2E latency (ms)",
            Summaries.Select(s => (Label(s.Setting), (IReadOnlyList<(double, double)>)s.Points.Select(q => (q.OutputThroughput, q.E2eMs)).ToList())).ToList(),
            Slo.E2eMs, Slo.E2eMs is null ? null : "E2E SLO"));
        var md = new StringBuilder("# Capacity sweep\n\n");
        md.Append("```\n").Append(ToConsole()).Append("```\n\n![Latency against throughput](latency_vs_throughput.svg)\n");
        File.WriteAllText(Path.Combine(Directory, "sweep.md"), md.ToString());
    }
}

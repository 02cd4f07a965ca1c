using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Inference.LoadGen.Reporting;

namespace Inference.LoadGen.Serving;

/// <summary>A run's result as a console table (vllm bench serve's layout), a JSON document (its field names) and a
/// Markdown report with charts of latency over the run and the inter-token latency distribution.</summary>
public sealed class ServeReport
{
    /// <summary>Deviation of streamed from usage token throughput the self-check allows.</summary>
    public const double SelfCheckTolerance = 0.05;

    public ServeReport(IReadOnlyList<(string Name, string Value)> settings, ServeRun run, ServeMetrics metrics, Slo slo, IReadOnlyList<double> percentiles)
    {
        Settings = settings;
        Run = run;
        Metrics = metrics;
        Slo = slo;
        Percentiles = percentiles;
    }

    public IReadOnlyList<(string Name, string Value)> Settings { get; }

    public ServeRun Run { get; }

    public ServeMetrics Metrics { get; }

    public Slo Slo { get; }

    public IReadOnlyList<double> Percentiles { get; }

    /// <summary>True when the server reported usage and the streamed count is within the tolerance of it.</summary>
    public bool? SelfCheckPassed => Metrics.SelfCheckDeviation is { } d ? d <= SelfCheckTolerance : null;

    public string ToConsole()
    {
        var s = new StringBuilder();
        void Row(string name, string value) => s.Append(CultureInfo.InvariantCulture, $"{name,-41}{value}\n");
        static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
        void Section(string title) => s.Append(Center(title, '-')).Append('\n');
        void Stats(string abbrev, LatencyStats stats)
        {
            Row($"Mean {abbrev} (ms):", F(stats.Mean));
            Row($"Median {abbrev} (ms):", F(stats.Median));
            foreach ((double p, double v) in stats.Percentiles)
            {
                Row($"P{p.ToString(CultureInfo.InvariantCulture)} {abbrev} (ms):", F(v));
            }
        }

        s.Append(Center(" Serving Benchmark Result ", '=')).Append('\n');
        foreach ((string name, string value) in Settings)
        {
            Row(name + ":", value);
        }

        ServeMetrics m = Metrics;
        Row("Successful requests:", m.Completed.ToString(CultureInfo.InvariantCulture));
        Row("Failed requests:", m.Failed.ToString(CultureInfo.InvariantCulture));
        foreach ((string kind, int count) in m.ErrorsByKind)
        {
            Row($"  {kind}:", count.ToString(CultureInfo.InvariantCulture));
        }

        Row("Benchmark duration (s):", F(m.DurationSeconds));
        Row("Total input tokens:", m.TotalInputTokens.ToString(CultureInfo.InvariantCulture));
        Row("Total generated tokens:", m.TotalOutputTokens.ToString(CultureInfo.InvariantCulture));
        Row("Request throughput (req/s):", F(m.RequestThroughput));
        if (m.RequestGoodput is { } goodput)
        {
            Row($"Request goodput (req/s):", $"{F(goodput)}  (SLO {Slo})");
        }

        Row("Output token throughput (tok/s):", F(m.OutputThroughput));
        Row("Peak output token throughput (tok/s):", F(m.PeakOutputThroughput));
        Row("Peak concurrent requests:", m.PeakConcurrency.ToString(CultureInfo.InvariantCulture));
        Row("Total Token throughput (tok/s):", F(m.TotalTokenThroughput));
        Section("Time to First Token");
        Stats("TTFT", m.Ttft);
        Section("Time per Output Token (excl. 1st token)");
        Stats("TPOT", m.Tpot);
        Section("Inter-token Latency");
        Stats("ITL", m.Itl);
        Section("End-to-end Latency");
        Stats("E2EL", m.E2e);
        Section("Self-check");
        Row("Streamed output tokens:", m.StreamedOutputTokens.ToString(CultureInfo.InvariantCulture));
        Row("Streamed token throughput (tok/s):", F(m.StreamedOutputThroughput));
        if (m.UsageOutputTokens >= 0)
        {
            Row("Usage completion tokens:", m.UsageOutputTokens.ToString(CultureInfo.InvariantCulture));
            Row("Usage token throughput (tok/s):", F(m.UsageOutputTokens / Math.Max(m.DurationSeconds, 1e-9)));
            Row("Deviation:", $"{m.SelfCheckDeviation!.Value * 100:0.00} % ({(SelfCheckPassed == true ? "within" : "OUTSIDE")} {SelfCheckTolerance * 100:0} %)");
        }
        else
        {
            Row("Usage completion tokens:", "not reported by the server (no self-check)");
        }

        s.Append(new string('=', 50)).Append('\n');
        return s.ToString();
    }

    public JsonObject ToJson(bool detailed = true)
    {
        ServeMetrics m = Metrics;
        var json = new JsonObject
        {
            ["date"] = Run.StartedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture),
        };
        foreach ((string name, string value) in Settings)
        {
            json[Key(name)] = value;
        }

        json["duration"] = m.DurationSeconds;
        json["completed"] = m.Completed;
        json["failed"] = m.Failed;
        json["errors_by_kind"] = new JsonObject(m.ErrorsByKind.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)e.Value)));
        json["total_input_tokens"] = m.TotalInputTokens;
        json["total_output_tokens"] = m.TotalOutputTokens;
        json["request_throughput"] = m.RequestThroughput;
        json["request_goodput"] = m.RequestGoodput;
        json["goodput_slo"] = Slo.IsEmpty ? null : Slo.ToString();
        json["output_throughput"] = m.OutputThroughput;
        json["total_token_throughput"] = m.TotalTokenThroughput;
        json["max_output_tokens_per_s"] = m.PeakOutputThroughput;
        json["max_concurrent_requests"] = m.PeakConcurrency;
        foreach ((string name, LatencyStats stats) in new[] { ("ttft", m.Ttft), ("tpot", m.Tpot), ("itl", m.Itl), ("e2el", m.E2e) })
        {
            json[$"mean_{name}_ms"] = stats.Mean;
            json[$"median_{name}_ms"] = stats.Median;
            json[$"std_{name}_ms"] = stats.Std;
            foreach ((double p, double v) in stats.Percentiles)
            {
                json[$"p{p.ToString(CultureInfo.InvariantCulture)}_{name}_ms"] = v;
            }
        }

        json["self_check"] = new JsonObject
        {
            ["streamed_output_tokens"] = m.StreamedOutputTokens,
            ["usage_output_tokens"] = m.UsageOutputTokens >= 0 ? m.UsageOutputTokens : null,
            ["streamed_output_throughput"] = m.StreamedOutputThroughput,
            ["deviation"] = m.SelfCheckDeviation,
            ["tolerance"] = SelfCheckTolerance,
            ["passed"] = SelfCheckPassed,
        };
        if (detailed)
        {
            var ok = Run.Outcomes.Where(o => o.Success).ToList();
            json["start_times"] = Array(ok.Select(o => o.StartSeconds));
            json["input_lens"] = Array(ok.Select(o => (double)o.InputTokens));
            json["output_lens"] = Array(ok.Select(o => (double)o.OutputTokens));
            json["ttfts"] = Array(ok.Select(o => o.Ttft));
            json["e2els"] = Array(ok.Select(o => o.Latency));
            json["itls"] = new JsonArray(ok.Select(o => (JsonNode?)Array(o.Itl)).ToArray());
            json["errors"] = new JsonArray(Run.Outcomes.Where(o => !o.Success).Select(o => (JsonNode?)$"{o.ErrorKind}: {o.ErrorMessage}").ToArray());
        }

        return json;
    }

    /// <summary>Writes result.json, report.md and the charts it links into <paramref name="directory"/>.</summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "result.json"), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var ok = Run.Outcomes.Where(o => o.Success).ToList();
        File.WriteAllText(Path.Combine(directory, "latency_vs_time.svg"), Charts.Scatter(
            "Latency of each request by its send time", "send time (s)", "latency (ms)",
            [
                ("TTFT", ok.Select(o => (o.StartSeconds, o.Ttft * 1000)).ToList()),
                ("end-to-end", ok.Select(o => (o.StartSeconds, o.Latency * 1000)).ToList()),
            ]));
        File.WriteAllText(Path.Combine(directory, "itl_distribution.svg"), Charts.Histogram(
            "Inter-token latency distribution", "ITL (ms)", ok.SelectMany(o => o.Itl).Select(v => v * 1000).ToList()));
        File.WriteAllText(Path.Combine(directory, "report.md"), ToMarkdown());
    }

    public string ToMarkdown()
    {
        var s = new StringBuilder();
        ServeMetrics m = Metrics;
        static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
        s.Append("# Serving benchmark\n\n");
        s.Append(CultureInfo.InvariantCulture, $"Run at {Run.StartedAt:yyyy-MM-dd HH:mm:ss} UTC.\n\n| Setting | Value |\n|---|---|\n");
        foreach ((string name, string value) in Settings)
        {
            s.Append(CultureInfo.InvariantCulture, $"| {name} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        }

        s.Append("\n## Throughput\n\n| Metric | Value |\n|---|---|\n");
        s.Append(CultureInfo.InvariantCulture, $"| Successful / failed requests | {m.Completed} / {m.Failed} |\n");
        foreach ((string kind, int count) in m.ErrorsByKind)
        {
            s.Append(CultureInfo.InvariantCulture, $"| errors: {kind} | {count} |\n");
        }

        s.Append(CultureInfo.InvariantCulture, $"| Duration (s) | {F(m.DurationSeconds)} |\n");
        s.Append(CultureInfo.InvariantCulture, $"| Input / output tokens | {m.TotalInputTokens} / {m.TotalOutputTokens} |\n");
        s.Append(CultureInfo.InvariantCulture, $"| Request throughput (req/s) | {F(m.RequestThroughput)} |\n");
        if (m.RequestGoodput is { } goodput)
        {
            s.Append(CultureInfo.InvariantCulture, $"| Request goodput (req/s, SLO {Slo}) | {F(goodput)} |\n");
        }

        s.Append(CultureInfo.InvariantCulture, $"| Output token throughput (tok/s) | {F(m.OutputThroughput)} |\n");
        s.Append(CultureInfo.InvariantCulture, $"| Total token throughput (tok/s) | {F(m.TotalTokenThroughput)} |\n");
        s.Append(CultureInfo.InvariantCulture, $"| Peak output throughput (tok/s) / peak concurrency | {F(m.PeakOutputThroughput)} / {m.PeakConcurrency} |\n");
        if (m.SelfCheckDeviation is { } deviation)
        {
            s.Append(CultureInfo.InvariantCulture, $"| Self-check: streamed vs usage tokens | {m.StreamedOutputTokens} vs {m.UsageOutputTokens} ({deviation * 100:0.00} %, {(SelfCheckPassed == true ? "within" : "outside")} {SelfCheckTolerance * 100:0} %) |\n");
        }

        s.Append("\n## Latency (ms)\n\n| Metric | Mean | Median | Std |");
        foreach (double p in Percentiles)
        {
            s.Append(CultureInfo.InvariantCulture, $" P{p} |");
        }

        s.Append("\n|---|---|---|---|").Append(string.Concat(Enumerable.Repeat("---|", Percentiles.Count))).Append('\n');
        foreach ((string name, LatencyStats stats) in new[] { ("TTFT", m.Ttft), ("TPOT", m.Tpot), ("ITL", m.Itl), ("E2E latency", m.E2e) })
        {
            s.Append(CultureInfo.InvariantCulture, $"| {name} | {F(stats.Mean)} | {F(stats.Median)} | {F(stats.Std)} |");
            foreach (double p in Percentiles)
            {
                s.Append(CultureInfo.InvariantCulture, $" {F(stats.P(p))} |");
            }

            s.Append('\n');
        }

        s.Append("\n## Charts\n\n![Latency by send time](latency_vs_time.svg)\n\n![Inter-token latency distribution](itl_distribution.svg)\n");
        return s.ToString();
    }

    private static JsonArray Array(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)Math.Round(v, 6)).ToArray());

    private static string Key(string name) => name.ToLowerInvariant().Replace(' ', '_').Replace("-", "_", StringComparison.Ordinal);

    private static string Center(string title, char fill)
    {
        int total = 50 - title.Length;
        return total <= 0 ? title : new string(fill, total / 2) + title + new string(fill, total - total / 2);
    }
}

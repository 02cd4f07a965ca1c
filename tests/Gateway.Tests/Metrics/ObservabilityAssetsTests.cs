using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Metrics;

/// <summary>
/// The operator assets under deploy/observability hold up against the real server: every series the Grafana
/// dashboard and the alert rules query is one a live gateway exposes (a renamed metric breaks this test, not a
/// dashboard in production), the alert rules pass promtool's checks and its unit tests (each alert fires on a
/// lasting breach and not on a short one), and every dashboard query is valid PromQL.
/// </summary>
[Collection(ModelCollection.Name)]
public sealed partial class ObservabilityAssetsTests(ModelFixture model)
{
    private static readonly string Root = RepoFiles.InRepo("deploy/observability");

    // PromQL words that look like metric names in an expression but are not.
    private static readonly HashSet<string> NotMetrics = new(StringComparer.Ordinal)
    {
        "sum", "by", "rate", "avg_over_time", "histogram_quantile", "max", "min", "avg", "clamp_min", "le", "status", "reason", "model",
        "worker", "key_id", "priority_class", "tenant", "kind", "instance", "without", "on", "ignoring", "group_left", "and", "or", "unless", "bool",
    };

    private static IEnumerable<string> DashboardExpressions()
    {
        using JsonDocument dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "grafana", "dashboards", "inference.json")));
        foreach (JsonElement panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (panel.TryGetProperty("targets", out JsonElement targets))
            {
                foreach (JsonElement target in targets.EnumerateArray())
                {
                    yield return target.GetProperty("expr").GetString()!;
                }
            }
        }
    }

    private static IEnumerable<string> RuleExpressions() =>
        File.ReadAllLines(Path.Combine(Root, "prometheus", "alerts.yml"))
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("expr:", StringComparison.Ordinal) || l.StartsWith("sum(", StringComparison.Ordinal) || l.StartsWith("/ ", StringComparison.Ordinal));

    // Metric names in an expression: identifiers outside strings and braces that are not PromQL words or recorded
    // series (level:metric:operation), with histogram suffixes mapped to their family.
    private static IEnumerable<string> MetricNames(string expr)
    {
        string bare = Braces().Replace(Strings().Replace(expr.Replace("$__rate_interval", "5m", StringComparison.Ordinal), string.Empty), string.Empty);
        foreach (Match m in Identifier().Matches(bare))
        {
            string name = m.Value;
            // Every metric name has an underscore; single words (e in 1e-9, durations' units) are not metrics.
            if (name.Contains('_', StringComparison.Ordinal) && !NotMetrics.Contains(name) && !name.Contains(':', StringComparison.Ordinal))
            {
                yield return name;
            }
        }
    }

    [Fact]
    public async Task EverySeriesTheDashboardAndAlertsQuery_IsExposedByALiveGateway()
    {
        await using TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        using HttpResponseMessage warm = await gateway.PostAsync("/v1/completions", """{"model":"brown-llama-5m","prompt":"The jury","max_tokens":3}""");
        Assert.True(warm.IsSuccessStatusCode, await warm.Content.ReadAsStringAsync());
        string exposition = await gateway.Http.GetStringAsync("/metrics").WaitAsync(TestTimeouts.Call);
        var exposed = new HashSet<string>(
            exposition.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l[..l.IndexOfAny(['{', ' '])]),
            StringComparer.Ordinal);

        // A labelled family with no sample yet (no rejection so far) shows only its TYPE line.
        foreach (string[] type in exposition.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')))
        {
            string[] names = type[3] == "histogram" ? [type[2] + "_bucket", type[2] + "_sum", type[2] + "_count"] : [type[2]];
            exposed.UnionWith(names);
        }

        var queried = DashboardExpressions().Concat(RuleExpressions()).SelectMany(MetricNames).ToHashSet(StringComparer.Ordinal);

        Assert.True(queried.Count >= 15, $"only {queried.Count} metric names found: {string.Join(", ", queried)}");
        Assert.Contains("inference_e2e_request_latency_seconds_bucket", queried);
        Assert.Empty(queried.Where(name => !exposed.Contains(name)).Order());
    }

    [PromtoolFact]
    public async Task AlertRules_PassPromtoolCheckAndUnitTests()
    {
        string dir = Path.Combine(Root, "prometheus");
        (int code, string output) = await PromtoolAsync(dir, "check", "rules", "alerts.yml");
        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS: 8 rules found", output, StringComparison.Ordinal);

        (code, output) = await PromtoolAsync(dir, "test", "rules", "alerts.test.yml");
        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [PromtoolFact]
    public async Task AlertUnitTests_CatchABrokenThreshold()
    {
        // The unit tests are not vacuous: with the answer SLO at 50 s instead of 5 s they fail.
        string dir = Directory.CreateTempSubdirectory("alerts-").FullName;
        try
        {
            string rules = File.ReadAllText(Path.Combine(Root, "prometheus", "alerts.yml"));
            string broken = rules.Replace("inference:e2e_latency_seconds:p95_5m > 5", "inference:e2e_latency_seconds:p95_5m > 50", StringComparison.Ordinal);
            Assert.NotEqual(rules, broken);
            File.WriteAllText(Path.Combine(dir, "alerts.yml"), broken);
            File.Copy(Path.Combine(Root, "prometheus", "alerts.test.yml"), Path.Combine(dir, "alerts.test.yml"));

            (int code, string output) = await PromtoolAsync(dir, "test", "rules", "alerts.test.yml");
            Assert.NotEqual(0, code);
            Assert.Contains("InferenceAnswerP95Over5s", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [PromtoolFact]
    public async Task EveryDashboardQuery_IsValidPromQL()
    {
        // promtool parses a rule file's expressions: each panel query becomes a recording rule.
        string dir = Directory.CreateTempSubdirectory("dashboard-").FullName;
        try
        {
            var yaml = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
            int i = 0;
            foreach (string expr in DashboardExpressions())
            {
                string promql = expr.Replace("$__rate_interval", "5m", StringComparison.Ordinal);
                yaml.Append("      - record: dashboard:query").Append(i++).Append('\n')
                    .Append("        expr: ").Append(JsonSerializer.Serialize(promql)).Append('\n');
            }

            Assert.True(i >= 20, $"only {i} dashboard queries");
            File.WriteAllText(Path.Combine(dir, "dashboard.yml"), yaml.ToString());
            (int code, string output) = await PromtoolAsync(dir, "check", "rules", "dashboard.yml");
            Assert.True(code == 0, output);
            Assert.Contains($"SUCCESS: {i} rules found", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> PromtoolAsync(string dir, params string[] args)
    {
        var start = new ProcessStartInfo(PromtoolFactAttribute.Path) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process p = Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (p.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex("\"[^\"]*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}|\[[^\]]*\]")]
    private static partial Regex Braces();

    [GeneratedRegex(@"[A-Za-z_:][A-Za-z0-9_:]*")]
    private static partial Regex Identifier();
}

using System.Globalization;
using System.Text.Json;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Sweeping;
using Inference.Operators.Tests.Serving;

namespace Inference.Operators.Tests.Sweeping;

/// <summary>bench sweep against the live in-process gateway at a fixed --base-url (no restarts): two small rates.</summary>
[Collection(LiveGatewayCollection.Name)]
public sealed class SweepLiveTests(LiveGateway gateway) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sweep-live-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private async Task<(SweepResult Result, string Log)> SweepAsync(string outDir, string rates, params string[] slo)
    {
        string[] args =
        [
            "--out", outDir, "--base-url", gateway.HttpAddress.ToString(), "--rates", rates, "--slo", .. slo,
            // Lenient on throughput: a few requests at a Poisson rate end a run early or late by chance.
            "--min-throughput-ratio", "0.1", "--num-prompts", "6", "--input-len", "16", "--output-len", "8",
            "--tokenizer", LiveGateway.Model,
        ];
        var parsed = new CommandArgs(
            args, ["--out", "--base-url", "--rates", "--slo", "--min-throughput-ratio", "--num-prompts", "--input-len", "--output-len", "--tokenizer"], [], ["--slo"]);
        var log = new StringWriter(CultureInfo.InvariantCulture);
        SweepResult result = await SweepCommand.RunAsync(parsed, log, CancellationToken.None).WaitAsync(LiveGateway.Limit);
        return (result, log.ToString());
    }

    [Fact]
    public async Task RunAsync_LenientSlo_RecommendsTheHighestRate_ThenResumesWithoutRunning()
    {
        string outDir = Path.Combine(_dir, "lenient");

        (SweepResult result, string log) = await SweepAsync(outDir, "4,8", "ttft:60000", "e2el:60000");

        Assert.True(result.Recommended is not null, log + result.ToConsole());
        Assert.Equal(8, result.Recommended.Best!.Rate);
        Assert.Equal(2, result.Summaries.Single().Points.Count);
        Assert.All(result.Summaries.Single().Points, p =>
        {
            Assert.True(p.Meets, p.Reason);
            Assert.Equal(6, p.Completed);
            Assert.Equal(8, p.MeanOutputTokens); // ignore_eos: every answer has --output-len tokens
        });
        using (JsonDocument sweep = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "sweep.json")).WaitAsync(LiveGateway.Limit)))
        {
            JsonElement recommended = sweep.RootElement.GetProperty("recommended");
            Assert.Equal(8, recommended.GetProperty("max_good_request_rate").GetDouble());
            Assert.Equal(8, recommended.GetProperty("mean_output_tokens").GetDouble());
            Assert.True(recommended.GetProperty("output_throughput").GetDouble() > 0);
        }

        Assert.True(File.Exists(Path.Combine(outDir, "sweep.md")));
        Assert.Equal("svg", System.Xml.Linq.XDocument.Load(Path.Combine(outDir, "latency_vs_throughput.svg")).Root!.Name.LocalName);
        string[] results = await File.ReadAllLinesAsync(Path.Combine(outDir, "results.jsonl")).WaitAsync(LiveGateway.Limit);
        Assert.Equal(2, results.Length);

        // The same options again: every point is on disk, so nothing is sent and the same points come back.
        (SweepResult resumed, string resumeLog) = await SweepAsync(outDir, "4,8", "ttft:60000", "e2el:60000");

        Assert.Contains("resuming", resumeLog, StringComparison.Ordinal);
        Assert.Contains("done earlier", resumeLog, StringComparison.Ordinal);
        Assert.DoesNotContain("req/s done", resumeLog, StringComparison.Ordinal);
        Assert.Equal(results, await File.ReadAllLinesAsync(Path.Combine(outDir, "results.jsonl")).WaitAsync(LiveGateway.Limit));
        Assert.Equal(
            result.Summaries.Single().Points.Select(p => (p.Rate, p.RequestThroughput, p.E2eMs)),
            resumed.Summaries.Single().Points.Select(p => (p.Rate, p.RequestThroughput, p.E2eMs)));
        Assert.Equal(8, resumed.Recommended!.Best!.Rate);
        Assert.Empty(gateway.Errors);
    }

    [Fact]
    public async Task RunAsync_ImpossibleSlo_NoRecommendationAndHigherRatesSkipped()
    {
        string outDir = Path.Combine(_dir, "impossible");

        (SweepResult result, string log) = await SweepAsync(outDir, "4,8", "ttft:0.001");

        Assert.Null(result.Recommended);
        SweepPoint only = Assert.Single(result.Summaries.Single().Points); // a miss at 4 req/s: 8 is not tried
        Assert.Equal(4, only.Rate);
        Assert.False(only.Meets);
        Assert.Contains("p95 TTFT", only.Reason, StringComparison.Ordinal);
        using (JsonDocument sweep = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "sweep.json")).WaitAsync(LiveGateway.Limit)))
        {
            Assert.Equal(JsonValueKind.Null, sweep.RootElement.GetProperty("recommended").ValueKind);
        }

        Assert.Contains("recommended: none", result.ToConsole(), StringComparison.Ordinal);
        Assert.Empty(gateway.Errors);
    }

    [Fact]
    public async Task RunAsync_SameOutOtherSlo_RefusedNamingTheFolder()
    {
        string outDir = Path.Combine(_dir, "refused");
        Directory.CreateDirectory(outDir);
        await File.WriteAllTextAsync(Path.Combine(outDir, "sweep-config.json"), """{"--slo":"ttft:1"}""").WaitAsync(LiveGateway.Limit);

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => SweepAsync(outDir, "4", "ttft:60000"));

        Assert.Contains(outDir, ex.Message, StringComparison.Ordinal);
    }
}

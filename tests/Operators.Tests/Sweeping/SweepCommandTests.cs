using Inference.LoadGen.Serving;
using Inference.LoadGen.Sweeping;

namespace Inference.Operators.Tests.Sweeping;

public sealed class SweepCommandTests
{
    private static readonly double[] Percentiles = [95];

    [Fact]
    public void Settings_None_OneEmptySetting()
    {
        Dictionary<string, string> only = Assert.Single(SweepCommand.Settings([]));

        Assert.Empty(only);
    }

    [Fact]
    public void Settings_SeveralNames_CartesianProduct()
    {
        List<Dictionary<string, string>> settings = SweepCommand.Settings(["max-num-seqs=8,16,32", "block-size=16, 32"]);

        Assert.Equal(6, settings.Count);
        var labels = settings.Select(SweepResult.Label).ToList();
        Assert.Equal(6, labels.Distinct().Count());
        Assert.Contains("max-num-seqs=32 block-size=16", labels);
        Assert.All(settings, s => Assert.Equal(["block-size", "max-num-seqs"], s.Keys.Order(StringComparer.Ordinal)));
    }

    [Theory]
    [InlineData("max-seqs=8", "NAME one of max-num-seqs")]
    [InlineData("max-num-seqs", "expected NAME=V1,V2")]
    [InlineData("=8", "expected NAME=V1,V2")]
    [InlineData("max-num-seqs=", "no values")]
    [InlineData("block-size= , ", "no values")]
    public void Settings_Bad_ThrowsNamingIt(string option, string expected)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => SweepCommand.Settings([option]));

        Assert.Contains($"--setting {option}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Metrics of <paramref name="count"/> requests sent one every 1/<paramref name="rate"/> s, TTFTs rising
    /// from 100 ms in steps of <paramref name="ttftStepMs"/>, each 8 tokens over 400 ms after the first.</summary>
    private static ServeMetrics Metrics(double rate, int count = 20, double ttftStepMs = 1, int failed = 0, double? duration = null)
    {
        var outcomes = new List<RequestOutcome>();
        for (int i = 0; i < count; i++)
        {
            double ttft = (100 + i * ttftStepMs) / 1000;
            outcomes.Add(new RequestOutcome
            {
                StartSeconds = i / rate,
                Success = i >= failed,
                ErrorKind = i < failed ? "http_503" : null,
                Ttft = ttft,
                Latency = ttft + 0.4,
                UsageCompletionTokens = 8,
                StreamedTokens = 8,
                PromptTokens = 32,
            });
        }

        return ServeMetrics.Compute(outcomes, duration ?? count / rate, Slo.None, Percentiles);
    }

    [Fact]
    public void Evaluate_WithinEverything_Meets()
    {
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4), new Slo(500, 100, 1000), 95, 0.9);

        Assert.True(point.Meets, point.Reason);
        Assert.Equal(string.Empty, point.Reason);
        Assert.Equal(4, point.Rate);
        Assert.Equal(4, point.RequestThroughput, 1e-9);
        Assert.Equal(32, point.MeanInputTokens);
        Assert.Equal(8, point.MeanOutputTokens);
        Assert.Equal(100 + 0.95 * 19, point.TtftMs, 1e-9); // p95 of 100..119 ms
        Assert.Equal(400 / 7.0, point.TpotMs, 1e-9);
    }

    [Fact]
    public void Evaluate_FailedRequests_Misses()
    {
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4, failed: 1, duration: 19 / 4.0), new Slo(500, null, null), 95, 0.9);

        Assert.False(point.Meets);
        Assert.Equal("1 failed requests", point.Reason);
        Assert.Equal(1, point.Failed);
    }

    [Fact]
    public void Evaluate_ThroughputBelowTheRatio_Misses()
    {
        // 20 requests offered at 4/s took 10 s: 2 req/s served < 0.9 × 4.
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4, duration: 10), new Slo(500, null, null), 95, 0.9);

        Assert.False(point.Meets);
        Assert.Contains("throughput 2.00 req/s < 0.9 x offered 4", point.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_ThroughputJustAboveTheRatio_Meets()
    {
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4, duration: 20 / 3.7), new Slo(500, null, null), 95, 0.9);

        Assert.True(point.Meets, point.Reason);
    }

    [Fact]
    public void Evaluate_PercentileOverTheLimit_MissesThoughTheMedianIsWithin()
    {
        // TTFTs 100..480 ms: median 290 ms, p95 461 ms; limit 300 ms.
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4, ttftStepMs: 20), new Slo(300, null, null), 95, 0.9);

        Assert.False(point.Meets);
        Assert.Equal("p95 TTFT 461 ms > 300 ms", point.Reason);
    }

    [Fact]
    public void Evaluate_SeveralMisses_AllReasonsGiven()
    {
        SweepPoint point = SweepCommand.Evaluate(SweepPoints.Setting(), 4, Metrics(4, ttftStepMs: 20), new Slo(300, 10, 600), 95, 0.9);

        Assert.False(point.Meets);
        Assert.Equal("p95 TTFT 461 ms > 300 ms; p95 TPOT 57.1 ms > 10 ms; p95 E2E 861 ms > 600 ms", point.Reason);
    }

    [Theory]
    [InlineData(new string[] { "--rates", "1" }, "--out DIR is required")]
    [InlineData(new string[] { "--out", "x" }, "--rates R1,R2,... is required")]
    [InlineData(new string[] { "--out", "x", "--rates", "1,-2" }, "--rates: give positive request rates")]
    [InlineData(new string[] { "--out", "x", "--rates", "1", "--base-url", "http://127.0.0.1:1/", "--setting", "max-num-seqs=4" }, "--setting needs a local server")]
    [InlineData(new string[] { "--out", "x", "--rates", "1", "--base-url", "http://127.0.0.1:1/" }, "--slo is required")]
    [InlineData(new string[] { "--out", "x", "--rates", "1", "--base-url", "http://127.0.0.1:1/", "--slo", "ttft:5", "--slo-percentile", "100" }, "--slo-percentile 100")]
    public async Task RunAsync_BadOptions_ArgumentExceptionBeforeAnyRun(string[] args, string expected)
    {
        var parsed = new Inference.LoadGen.Reporting.CommandArgs(args, ["--out", "--rates", "--base-url", "--setting", "--slo", "--slo-percentile"], [], ["--slo"]);

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(
            () => SweepCommand.RunAsync(parsed, TextWriter.Null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}

using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

/// <summary>ServeMetrics on hand-built outcomes (times are binary fractions, so sums are exact): vllm bench serve's
/// definitions, worked out by hand in each test.</summary>
public sealed class ServeMetricsTests
{
    private const double Tolerance = 1e-9;
    private static readonly double[] Percentiles = [50, 99];

    /// <summary>A successful request: sent at <paramref name="start"/>, first token after <paramref name="ttft"/>,
    /// done after <paramref name="latency"/>, <paramref name="usage"/> tokens by the server's count.</summary>
    private static RequestOutcome Ok(double start, double ttft, double latency, int usage, int streamed, int promptTokens = 10)
    {
        var outcome = new RequestOutcome
        {
            StartSeconds = start,
            Success = true,
            Ttft = ttft,
            Latency = latency,
            UsageCompletionTokens = usage,
            StreamedTokens = streamed,
            PromptTokens = promptTokens,
        };
        for (int i = 1; i < streamed; i++)
        {
            outcome.Itl.Add((latency - ttft) / (streamed - 1));
        }

        return outcome;
    }

    private static RequestOutcome Failed(double start, double latency, string kind) =>
        new() { StartSeconds = start, Latency = latency, ErrorKind = kind, ErrorMessage = kind, PromptTokens = 10 };

    /// <summary>A: 11 tokens over [0, 1.125]; B: one token over [0.5, 0.75]; C: 5 tokens over [0.625, 2.875] (4 pieces
    /// on the wire: one chunk carried two tokens); D fails over [0.75, 0.8125]; E and F fail later.</summary>
    private static List<RequestOutcome> Run() =>
    [
        Ok(start: 0, ttft: 0.125, latency: 1.125, usage: 11, streamed: 11),
        Ok(start: 0.5, ttft: 0.25, latency: 0.25, usage: 1, streamed: 1),
        Ok(start: 0.625, ttft: 0.375, latency: 2.25, usage: 5, streamed: 4),
        Failed(start: 0.75, latency: 0.0625, kind: "http_503"),
        Failed(start: 3, latency: 0.125, kind: "http_503"),
        Failed(start: 3, latency: 0.5, kind: "timeout"),
    ];

    [Fact]
    public void Compute_Throughputs_AreTokensOverDuration()
    {
        ServeMetrics m = ServeMetrics.Compute(Run(), durationSeconds: 4, Slo.None, Percentiles);

        Assert.Equal(3, m.Completed);
        Assert.Equal(4, m.DurationSeconds);
        Assert.Equal(17, m.TotalOutputTokens); // usage counts: 11 + 1 + 5
        Assert.Equal(30, m.TotalInputTokens); // successful requests only
        Assert.Equal(3 / 4.0, m.RequestThroughput, Tolerance);
        Assert.Equal(17 / 4.0, m.OutputThroughput, Tolerance);
        Assert.Equal((30 + 17) / 4.0, m.TotalTokenThroughput, Tolerance);
        Assert.Equal(16 / 4.0, m.StreamedOutputThroughput, Tolerance);
        Assert.Equal(11, m.PeakOutputThroughput); // A's 11 tokens end in second 1, B's 1 in second 0, C's 5 in second 2
    }

    [Fact]
    public void Compute_Tpot_IsDecodeTimeOverTokensAfterTheFirst_OneTokenRequestsExcluded()
    {
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, Slo.None, Percentiles);

        // A: (1.125 − 0.125) / 10 = 100 ms; C: (2.25 − 0.375) / 4 = 468.75 ms; B (one token) has no TPOT.
        Assert.Equal(2, m.Tpot.Count);
        Assert.Equal((100 + 468.75) / 2, m.Tpot.Mean, Tolerance);
        Assert.Equal(3, m.Ttft.Count);
        Assert.Equal((125 + 250 + 375) / 3.0, m.Ttft.Mean, Tolerance);
        Assert.Equal((1125 + 250 + 2250) / 3.0, m.E2e.Mean, Tolerance);
        Assert.Equal(10 + 0 + 3, m.Itl.Count); // every gap between pieces, all requests together
    }

    [Fact]
    public void Compute_Failures_ExcludedAndGroupedByKind()
    {
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, Slo.None, Percentiles);

        Assert.Equal(3, m.Failed);
        Assert.Equal(new Dictionary<string, int> { ["http_503"] = 2, ["timeout"] = 1 }, m.ErrorsByKind);
        Assert.Equal(3, m.E2e.Count); // the failures' latencies are not in the latency stats
    }

    [Fact]
    public void Compute_Goodput_CountsOnlyRequestsMeetingEverySlo()
    {
        // A: TTFT 125 ≤ 300, E2E 1125 ≤ 2000: good. B: 250, 250: good. C: TTFT 375 > 300: not good. Failures never.
        var slo = new Slo(TtftMs: 300, TpotMs: null, E2eMs: 2000);

        ServeMetrics m = ServeMetrics.Compute(Run(), 4, slo, Percentiles);

        Assert.Equal(2 / 4.0, m.RequestGoodput!.Value, Tolerance);
    }

    [Fact]
    public void Compute_TpotSlo_OneTokenRequestMeetsIt()
    {
        // TPOT 150 ms: A (100 ms) and B (none) meet it, C (468.75 ms) does not.
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, new Slo(null, 150, null), Percentiles);

        Assert.Equal(2 / 4.0, m.RequestGoodput!.Value, Tolerance);
    }

    [Fact]
    public void Compute_NoSlo_GoodputIsNull()
    {
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, Slo.None, Percentiles);

        Assert.Null(m.RequestGoodput);
    }

    [Fact]
    public void Compute_PeakConcurrency_FromOverlappingIntervals_EndBeforeStartAtTheSameInstant()
    {
        // In flight over [0.625, 0.75): A, B, C = 3. At 0.75 B ends as D starts: still 3 (4 if the start came first).
        // E and F overlap later: 2.
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, Slo.None, Percentiles);

        Assert.Equal(3, m.PeakConcurrency);
    }

    [Fact]
    public void Compute_SelfCheck_DeviationOfStreamedFromUsage()
    {
        ServeMetrics m = ServeMetrics.Compute(Run(), 4, Slo.None, Percentiles);

        Assert.Equal(16, m.StreamedOutputTokens);
        Assert.Equal(17, m.UsageOutputTokens);
        Assert.Equal(1 / 17.0, m.SelfCheckDeviation!.Value, Tolerance);
    }

    [Fact]
    public void Compute_ARequestWithoutUsage_NoSelfCheckAndStreamedTokensCount()
    {
        List<RequestOutcome> outcomes = Run();
        outcomes[2].UsageCompletionTokens = -1; // C: no usage, so its 4 pieces on the wire count

        ServeMetrics m = ServeMetrics.Compute(outcomes, 4, Slo.None, Percentiles);

        Assert.Equal(-1, m.UsageOutputTokens);
        Assert.Null(m.SelfCheckDeviation);
        Assert.Equal(11 + 1 + 4, m.TotalOutputTokens);
    }

    [Fact]
    public void Compute_UsagePromptTokens_PreferredOverTheDatasetCount()
    {
        List<RequestOutcome> outcomes = Run();
        outcomes[0].UsagePromptTokens = 14; // the server counted a BOS and a template the dataset did not

        ServeMetrics m = ServeMetrics.Compute(outcomes, 4, Slo.None, Percentiles);

        Assert.Equal(14 + 10 + 10, m.TotalInputTokens);
    }

    [Fact]
    public void Compute_NothingSucceeded_ZeroThroughputAndStats()
    {
        ServeMetrics m = ServeMetrics.Compute([Failed(0, 0.5, "connection")], 1, new Slo(100, null, null), Percentiles);

        Assert.Equal(0, m.Completed);
        Assert.Equal(1, m.Failed);
        Assert.Equal(0, m.OutputThroughput);
        Assert.Equal(0, m.RequestGoodput);
        Assert.Equal(0, m.E2e.Count);
        Assert.Equal(-1, m.UsageOutputTokens);
    }
}

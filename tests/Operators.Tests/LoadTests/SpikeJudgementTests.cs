using Inference.LoadGen.Serving;
using Inference.LoadTests;
using Inference.LoadTests.Scenarios;

namespace Inference.Operators.Tests.LoadTests;

/// <summary>
/// The spike scenario's verdict over made-up outcomes: baseline 0-10 s, spike 10-20 s, recovery judged on what was sent
/// from 30 s on. One slow request after recovery is a hiccup and passes; a backlog that slows everything sent after the
/// recovery point fails, as does any failure there, a shed request without Retry-After, or a 500.
/// </summary>
public sealed class SpikeJudgementTests
{
    private const double SpikeStart = 10, SpikeEnd = 20, Recovery = 10;

    private static RequestOutcome Served(double start, double ttftMs) =>
        new() { StartSeconds = start, Success = true, HttpStatus = 200, Ttft = ttftMs / 1000, Latency = ttftMs / 1000 + 0.5 };

    private static RequestOutcome Refused(double start, int status, bool retryAfter) =>
        new() { StartSeconds = start, Success = false, HttpStatus = status, RetryAfter = retryAfter, ErrorKind = $"http_{status}" };

    /// <summary>Baseline at 80-100 ms (p95 98 ms, bound 296 ms), a spike shed in part, then traffic at <paramref name="afterTtftMs"/>.</summary>
    private static List<RequestOutcome> Run(Func<double, double> afterTtftMs)
    {
        var outcomes = new List<RequestOutcome>();
        for (int i = 0; i < 20; i++)
        {
            outcomes.Add(Served(i * 0.5, 80 + i));
        }

        for (int i = 0; i < 40; i++)
        {
            outcomes.Add(i % 2 == 0 ? Served(SpikeStart + i * 0.25, 900) : Refused(SpikeStart + i * 0.25, 503, retryAfter: true));
        }

        for (double t = SpikeEnd; t < SpikeEnd + 20; t += 0.5)
        {
            outcomes.Add(Served(t, afterTtftMs(t)));
        }

        return outcomes;
    }

    private static (bool Check, string Detail) Recovered(ScenarioResult result)
    {
        (string _, bool passed, string detail) = result.Checks.Single(c => c.Check.StartsWith("recovered within", StringComparison.Ordinal));
        return (passed, detail);
    }

    [Fact]
    public void BackToBaselineAfterTheSpike_Passes()
    {
        ScenarioResult result = Spike.Judge(Run(t => t < SpikeEnd + 5 ? 1500 : 90), SpikeStart, SpikeEnd, Recovery, 4);
        Assert.True(result.Passed, result.ToString());
        Assert.Contains("last failed or slow request sent 4.5 s after the spike", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void OneHiccupAfterRecovery_Passes()
    {
        ScenarioResult result = Spike.Judge(Run(t => Math.Abs(t - (SpikeEnd + 13)) < 0.01 ? 900 : 90), SpikeStart, SpikeEnd, Recovery, 4);
        Assert.True(result.Passed, result.ToString());
        Assert.Contains("1 slower than the bound 296 ms", Recovered(result).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void BacklogStillDrainingAfterRecovery_Fails()
    {
        // Slow until 16 s after the spike: 12 of the 20 judged requests above the bound.
        (bool passed, string detail) = Recovered(Spike.Judge(Run(t => t < SpikeEnd + 16 ? 700 : 90), SpikeStart, SpikeEnd, Recovery, 4));
        Assert.False(passed, detail);
        Assert.Contains("last failed or slow request sent 15.5 s after the spike", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailureAfterRecovery_Fails()
    {
        List<RequestOutcome> outcomes = Run(_ => 90);
        outcomes.Add(Refused(SpikeEnd + 15, 503, retryAfter: true));
        (bool passed, string detail) = Recovered(Spike.Judge(outcomes, SpikeStart, SpikeEnd, Recovery, 4));
        Assert.False(passed, detail);
        Assert.Contains("1 failed", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ShedWithoutRetryAfterOrA500_Fails()
    {
        List<RequestOutcome> outcomes = Run(_ => 90);
        outcomes.Add(Refused(SpikeStart + 1, 429, retryAfter: false));
        ScenarioResult result = Spike.Judge(outcomes, SpikeStart, SpikeEnd, Recovery, 4);
        Assert.False(result.Checks.Single(c => c.Check == "every shed request carries Retry-After").Passed);

        outcomes.Add(Refused(SpikeStart + 2, 500, retryAfter: false));
        result = Spike.Judge(outcomes, SpikeStart, SpikeEnd, Recovery, 4);
        Assert.False(result.Checks.Single(c => c.Check == "no 5xx but 503 shedding, no broken streams").Passed);
        Assert.False(result.Passed);
    }

    [Fact]
    public void NothingSentAfterRecovery_Fails()
    {
        List<RequestOutcome> outcomes = Run(_ => 90).Where(o => o.StartSeconds < SpikeEnd + Recovery).ToList();
        (bool passed, string detail) = Recovered(Spike.Judge(outcomes, SpikeStart, SpikeEnd, Recovery, 4));
        Assert.False(passed, detail);
        Assert.Contains("0 requests judged", detail, StringComparison.Ordinal);
    }
}

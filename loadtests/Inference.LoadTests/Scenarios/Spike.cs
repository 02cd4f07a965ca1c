using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// spike: --rate for --baseline seconds, then --factor (10) times it for --spike seconds (30), then --rate again for
/// --after seconds. No 5xx but 503 shedding, no broken connection; every shed request (429/503) carries Retry-After;
/// requests sent from --recovery seconds (10) after the spike on all succeed, and their p90 time to first token is no
/// slower than twice the baseline's p95 (plus 100 ms).
/// </summary>
public static class Spike
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        double rate = args.Double("--rate", 2);
        double factor = args.Double("--factor", 10);
        double baseline = args.Double("--baseline", 20);
        double spike = args.Double("--spike", 30);
        double recovery = args.Double("--recovery", 10);
        double after = args.Double("--after", 30);
        if (after <= recovery)
        {
            throw new ArgumentException($"--after ({after}) must exceed --recovery ({recovery}): recovery is judged on the requests sent after it");
        }

        // Piecewise Poisson: each phase's gaps drawn at its own rate.
        var random = new Random(7);
        var schedule = new List<double>();
        void Phase(double from, double to, double r)
        {
            for (double t = from + Exponential(random, r); t < to; t += Exponential(random, r))
            {
                schedule.Add(t);
            }
        }

        double spikeStart = baseline, spikeEnd = baseline + spike;
        Phase(0, spikeStart, rate);
        Phase(spikeStart, spikeEnd, rate * factor);
        Phase(spikeEnd, spikeEnd + after, rate);
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(schedule.Count, args.Int("--input-len", 64), args.Int("--output-len", 32));
        using IServingBackend backend = stack.Backend();
        await StackClient.WaitServingAsync(backend, prompts[0], TimeSpan.FromSeconds(60), cancellationToken);
        ServeRun run;
        using (var progress = new ProgressBar("spike", schedule.Count, log, interactive: false))
        {
            run = await ServeRunner.RunAsync(backend, prompts, schedule, maxConcurrency: null, progress, cancellationToken);
        }

        return Judge(run.Outcomes, spikeStart, spikeEnd, recovery, rate * factor);
    }

    /// <summary>The spike's checks over its outcomes (sent at StartSeconds from the run's start).</summary>
    public static ScenarioResult Judge(IReadOnlyList<RequestOutcome> all, double spikeStart, double spikeEnd, double recovery, double spikeRate)
    {
        ArgumentNullException.ThrowIfNull(all);
        var result = new ScenarioResult("spike");
        var shed = all.Where(o => o.HttpStatus is 429 or 503).ToList();
        var broken = all.Where(o => !o.Success && o.HttpStatus is not (429 or 503)).ToList();
        result.Check("no 5xx but 503 shedding, no broken streams", broken.Count == 0,
            broken.Count == 0 ? $"{all.Count} requests: {all.Count(o => o.Success)} served, {shed.Count} shed" : string.Join("; ", broken.Take(5).Select(o => $"{o.ErrorKind}: {o.ErrorMessage}")));
        result.Check("every shed request carries Retry-After", shed.TrueForAll(o => o.RetryAfter), $"{shed.Count(o => o.RetryAfter)} of {shed.Count} with Retry-After");

        var before = all.Where(o => o.Success && o.StartSeconds < spikeStart).ToList();
        double baselineP95 = LatencyStats.Percentile(before.Select(o => o.Ttft * 1000).Order().ToList(), 95);
        double bound = 2 * baselineP95 + 100;
        // Recovery time: after the spike, the send time of the last request that failed or was slow.
        var late = all.Where(o => o.StartSeconds >= spikeEnd && (!o.Success || o.Ttft * 1000 > bound)).ToList();
        double recoveredAfter = late.Count == 0 ? 0 : late.Max(o => o.StartSeconds) - spikeEnd;
        var judged = all.Where(o => o.StartSeconds >= spikeEnd + recovery).ToList();
        // Judged by the p90, not the maximum: one request slowed by a hiccup of a shared core (a GC, another process)
        // is not a backlog; a backlog still draining slows every request behind it, and fails the p90 as surely.
        double judgedP90 = LatencyStats.Percentile(judged.Where(o => o.Success).Select(o => o.Ttft * 1000).Order().ToList(), 90);
        int failed = judged.Count(o => !o.Success);
        int slow = judged.Count(o => o.Success && o.Ttft * 1000 > bound);
        double drained = all.Where(o => o.StartSeconds < spikeEnd && o.Success).Select(o => o.StartSeconds + o.Latency).DefaultIfEmpty(spikeEnd).Max() - spikeEnd;
        result.Check($"recovered within {recovery} s", judged.Count > 0 && failed == 0 && judgedP90 <= bound,
            $"{judged.Count} requests judged: {failed} failed, p90 TTFT {judgedP90:0} ms, {slow} slower than the bound {bound:0} ms (2 x baseline p95 {baselineP95:0} ms + 100); "
            + $"last failed or slow request sent {recoveredAfter:0.0} s after the spike");
        result.Notes.Add($"spike backlog drained {Math.Max(0, drained):0.0} s after the spike");
        result.Notes.Add($"spike phase: {all.Count(o => o.StartSeconds >= spikeStart && o.StartSeconds < spikeEnd)} requests offered at {spikeRate:0.#} req/s");
        return result;
    }

    private static double Exponential(Random random, double rate) => -Math.Log(1 - random.NextDouble()) / rate;
}

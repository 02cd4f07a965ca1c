using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>steady: Poisson arrivals at --rate for --duration seconds; nothing fails, the stack keeps up, and the
/// answer and first-token p95 are within the business SLOs (5 s, 2 s).</summary>
public static class Steady
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        double rate = args.Double("--rate", 4);
        double duration = args.Double("--duration", 120);
        double maxE2e = args.Double("--max-p95-e2e-ms", 5000);
        double maxTtft = args.Double("--max-p95-ttft-ms", 2000);
        int count = Math.Max(1, (int)Math.Round(rate * duration));
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(count, args.Int("--input-len", 64), args.Int("--output-len", 32));
        using IServingBackend backend = stack.Backend();
        await StackClient.WaitServingAsync(backend, prompts[0], TimeSpan.FromSeconds(60), cancellationToken);
        using var progress = new ProgressBar("steady", count, log, interactive: false);
        double[] schedule = new LoadShape { RequestRate = rate, Seed = 1 }.Schedule(count);
        ServeRun run = await ServeRunner.RunAsync(backend, prompts, schedule, maxConcurrency: null, progress, cancellationToken);
        ServeMetrics m = ServeMetrics.Compute(run.Outcomes, run.DurationSeconds, Slo.None, [95]);
        var result = new ScenarioResult("steady");
        result.Check("no failed requests", m.Failed == 0, $"{m.Failed} of {count} failed {Kinds(m)}");
        // Kept up: the last answer came within the answer SLO of the last send (no backlog built up).
        double lag = run.DurationSeconds - schedule[^1];
        result.Check("keeps up with the offered rate", lag <= maxE2e / 1000,
            $"{m.Completed} requests in {run.DurationSeconds:0.0} s ({m.RequestThroughput:0.00} req/s, offered {rate}); last answer {lag:0.00} s after the last send");
        result.Check("answer p95 within the SLO", m.E2e.P(95) <= maxE2e, $"p95 end-to-end {m.E2e.P(95):0} ms (limit {maxE2e} ms)");
        result.Check("first token p95 within the SLO", m.Ttft.P(95) <= maxTtft, $"p95 TTFT {m.Ttft.P(95):0} ms (limit {maxTtft} ms)");
        return result;
    }

    internal static string Kinds(ServeMetrics m) =>
        m.ErrorsByKind.Count == 0 ? string.Empty : "(" + string.Join(", ", m.ErrorsByKind.Select(e => $"{e.Key}: {e.Value}")) + ")";
}

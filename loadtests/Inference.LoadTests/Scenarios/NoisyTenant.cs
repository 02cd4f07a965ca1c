using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// noisy-tenant: a quiet tenant (--api-key) at --rate for --duration seconds alone, then again while a noisy tenant
/// (--noisy-key, limited to --noisy-rpm requests per minute) sends ten times its quota. The quiet tenant's p99 TTFT
/// degrades by at most --max-degradation (20 %, plus --slack-ms), it sees no errors, and the noisy tenant's excess
/// is refused with 429.
/// </summary>
public static class NoisyTenant
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        string noisyKey = args.String("--noisy-key") ?? throw new ArgumentException("noisy-tenant needs --noisy-key KEY (a key of another tenant with a requests-per-minute limit)");
        double noisyRpm = args.Double("--noisy-rpm", double.NaN);
        if (!(noisyRpm > 0))
        {
            throw new ArgumentException("noisy-tenant needs --noisy-rpm N: the noisy key's requests-per-minute limit");
        }

        double rate = args.Double("--rate", 2);
        double duration = args.Double("--duration", 60);
        double maxDegradation = args.Double("--max-degradation", 0.2);
        double slackMs = args.Double("--slack-ms", 0);
        int inputLen = args.Int("--input-len", 64), outputLen = args.Int("--output-len", 32);
        int quietCount = Math.Max(10, (int)(rate * duration));
        using IServingBackend quiet = stack.Backend();
        using IServingBackend noisy = stack.Backend(apiKey: noisyKey);
        await StackClient.WaitServingAsync(quiet, stack.Prompts(1, inputLen, outputLen)[0], TimeSpan.FromSeconds(60), cancellationToken);

        // Spend the noisy tenant's burst allowance first (this also warms the refusal path), so the measurement sees
        // its steady state at 10x its quota: admissions at the quota rate and a stream of refusals.
        int burst = await SpendBurstAsync(noisy, stack.Prompts(1, inputLen, outputLen)[0], (int)Math.Ceiling(noisyRpm) * 2 + 10, cancellationToken);
        log.WriteLine($"noisy-tenant: noisy tenant's burst spent ({burst} admitted before the first 429)");

        log.WriteLine($"noisy-tenant: quiet tenant alone at {rate} req/s for {duration:0} s");
        ServeRun alone = await ServeRunner.RunAsync(quiet, stack.Prompts(quietCount, inputLen, outputLen), new LoadShape { RequestRate = rate, Seed = 3 }, null, cancellationToken);

        double noisyRate = 10 * noisyRpm / 60;
        int noisyCount = Math.Max(10, (int)(noisyRate * duration));
        log.WriteLine($"noisy-tenant: again beside a noisy tenant at {noisyRate:0.##} req/s (10x its {noisyRpm} per minute)");
        Task<ServeRun> noise = ServeRunner.RunAsync(noisy, stack.Prompts(noisyCount, inputLen, outputLen), new LoadShape { RequestRate = noisyRate, Seed = 4 }, null, cancellationToken);
        ServeRun together = await ServeRunner.RunAsync(quiet, stack.Prompts(quietCount, inputLen, outputLen), new LoadShape { RequestRate = rate, Seed = 3 }, null, cancellationToken);
        ServeRun noisyRun = await noise;

        ServeMetrics a = ServeMetrics.Compute(alone.Outcomes, alone.DurationSeconds, Slo.None, [99]);
        ServeMetrics b = ServeMetrics.Compute(together.Outcomes, together.DurationSeconds, Slo.None, [99]);
        int refused = noisyRun.Outcomes.Count(o => o.HttpStatus == 429);
        int served = noisyRun.Outcomes.Count(o => o.Success);
        double limit = a.Ttft.P(99) * (1 + maxDegradation) + slackMs;
        var result = new ScenarioResult("noisy-tenant");
        result.Check("quiet tenant has no errors", a.Failed == 0 && b.Failed == 0, $"{a.Failed} alone, {b.Failed} beside the noisy tenant {Steady.Kinds(b)}");
        result.Check("noisy tenant's excess refused with 429", refused > 0 && served + refused == noisyRun.Outcomes.Count,
            $"{served} served, {refused} refused with 429 of {noisyRun.Outcomes.Count} (other failures: {noisyRun.Outcomes.Count - served - refused})");
        result.Check($"quiet p99 TTFT degrades by at most {maxDegradation * 100:0} %", b.Ttft.P(99) <= limit,
            $"alone {a.Ttft.P(99):0} ms, beside the noisy tenant {b.Ttft.P(99):0} ms (limit {limit:0} ms{(slackMs > 0 ? $" incl. {slackMs} ms slack" : string.Empty)})");
        return result;
    }

    private static async Task<int> SpendBurstAsync(IServingBackend noisy, BenchRequest probe, int attempts, CancellationToken cancellationToken)
    {
        for (int i = 0; i < attempts; i++)
        {
            RequestOutcome outcome = await noisy.SendAsync(probe with { MaxTokens = 1 }, cancellationToken);
            if (outcome.HttpStatus == 429)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"the noisy key was never refused in {attempts} requests: is --noisy-rpm its real limit?");
    }
}

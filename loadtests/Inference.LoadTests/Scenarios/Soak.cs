using System.Diagnostics;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// soak: --streams (1,000) concurrent SSE streams, each sending again as soon as its answer ends, for --duration
/// seconds (600). Zero errors; after --warmup seconds (60) the gateway's resident memory (process_working_set_bytes,
/// sampled every --sample-seconds) grows by less than --max-slope-mb-per-min (1) by least squares.
/// </summary>
public static class Soak
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        int streams = args.Int("--streams", 1000);
        double duration = args.Double("--duration", 600);
        double warmup = args.Double("--warmup", 60);
        double sampleEvery = args.Double("--sample-seconds", 5);
        double maxSlope = args.Double("--max-slope-mb-per-min", 1);
        int outputLen = args.Int("--output-len", 32);
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(Math.Min(streams, 256), args.Int("--input-len", 32), outputLen);
        using IServingBackend backend = stack.Backend(timeout: TimeSpan.FromSeconds(duration + 120));
        await StackClient.WaitServingAsync(backend, prompts[0], TimeSpan.FromSeconds(60), cancellationToken);
        var clock = Stopwatch.StartNew();
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<RequestOutcome>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(duration));
        var samples = new List<(double Minutes, double Mb)>();
        async Task Sampler()
        {
            while (!stop.IsCancellationRequested)
            {
                double t = clock.Elapsed.TotalSeconds;
                if (t >= warmup)
                {
                    samples.Add((t / 60, await stack.MetricAsync("process_working_set_bytes", cancellationToken: cancellationToken) / 1e6));
                }

                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(sampleEvery), stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        async Task Stream(int index)
        {
            // Stagger the first sends over a second so the streams do not all connect in one instant.
            await Task.Delay(TimeSpan.FromMilliseconds(index * 1000.0 / streams), cancellationToken);
            for (int i = index; !stop.IsCancellationRequested; i += streams)
            {
                RequestOutcome outcome = await backend.SendAsync(prompts[i % prompts.Count], cancellationToken);
                outcome.StartSeconds = clock.Elapsed.TotalSeconds;
                outcomes.Add(outcome);
            }
        }

        log.WriteLine($"soak: {streams} streams for {duration:0} s (memory sampled after {warmup:0} s)");
        Task sampler = Sampler();
        await Task.WhenAll(Enumerable.Range(0, streams).Select(Stream));
        await sampler;
        var failed = outcomes.Where(o => !o.Success).ToList();
        var result = new ScenarioResult("soak");
        result.Check("no errors", failed.Count == 0, $"{outcomes.Count} requests, {failed.Count} failed{(failed.Count > 0 ? ": " + string.Join("; ", failed.Take(3).Select(o => $"{o.ErrorKind} {o.ErrorMessage}")) : string.Empty)}");
        double slope = Slope(samples);
        result.Check("memory slope after warm-up", samples.Count >= 3 && slope < maxSlope,
            $"{slope:0.00} MB/min over {samples.Count} samples ({(samples.Count > 0 ? $"{samples[0].Mb:0} → {samples[^1].Mb:0} MB" : "none")}; limit {maxSlope} MB/min)");
        result.Notes.Add($"{outcomes.Count(o => o.Success)} answers, {outcomes.Sum(o => (long)o.OutputTokens)} tokens at {streams} concurrent streams");
        return result;
    }

    /// <summary>Least-squares slope of y on x; 0 for fewer than two points.</summary>
    internal static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return 0;
        }

        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxx == 0 ? 0 : points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx;
    }
}

using System.Diagnostics;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// worker-kill: --concurrency streams back to back against a gateway over two or more workers; --kill-after seconds in,
/// --kill-command (e.g. "kill -9 PID") ends one worker. Streams that were on it end with an in-band error within 5 s
/// of the kill (--max-error-seconds); requests sent from 1 s after the kill on are all served (traffic moved to the
/// others); and every request sent is metered exactly once (inference_request_total grows by their number).
/// </summary>
public static class WorkerKill
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        string kill = args.String("--kill-command") ?? throw new ArgumentException("worker-kill needs --kill-command CMD (run with bash -c; it must end one of the gateway's workers)");
        int concurrency = args.Int("--concurrency", 8);
        double killAfter = args.Double("--kill-after", 10);
        double duration = args.Double("--duration", 30);
        double maxErrorSeconds = args.Double("--max-error-seconds", 5);
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(64, args.Int("--input-len", 32), args.Int("--output-len", 128));
        using IServingBackend backend = stack.Backend(timeout: TimeSpan.FromSeconds(duration + 60));
        await StackClient.WaitServingAsync(backend, prompts[0], TimeSpan.FromSeconds(60), cancellationToken);
        (double admittedBefore, double refusedBefore) = await stack.AccountedAsync(cancellationToken);
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<RequestOutcome>();
        var clock = Stopwatch.StartNew();
        double killedAt = double.NaN;
        async Task Stream(int index)
        {
            for (int i = index; clock.Elapsed.TotalSeconds < duration; i += concurrency)
            {
                double start = clock.Elapsed.TotalSeconds;
                RequestOutcome outcome = await backend.SendAsync(prompts[i % prompts.Count], cancellationToken);
                outcome.StartSeconds = start;
                outcomes.Add(outcome);
            }
        }

        async Task Killer()
        {
            await Task.Delay(TimeSpan.FromSeconds(killAfter), cancellationToken);
            killedAt = clock.Elapsed.TotalSeconds;
            log.WriteLine($"worker-kill: running `{kill}` at {killedAt:0.0} s");
            using Process process = Process.Start(new ProcessStartInfo("bash", ["-c", kill]) { UseShellExecute = false })
                ?? throw new InvalidOperationException($"could not run {kill}");
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"--kill-command exited with {process.ExitCode}");
            }
        }

        log.WriteLine($"worker-kill: {concurrency} streams for {duration:0} s; a worker is killed at {killAfter:0} s");
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(Stream).Append(Killer()));
        var all = outcomes.ToList();
        var inFlight = all.Where(o => o.StartSeconds <= killedAt && o.StartSeconds + o.Latency >= killedAt).ToList();
        var failedInFlight = inFlight.Where(o => !o.Success).ToList();
        var later = all.Where(o => o.StartSeconds >= killedAt + 1).ToList();
        double slowest = failedInFlight.Count == 0 ? 0 : failedInFlight.Max(o => o.StartSeconds + o.Latency - killedAt);

        var clockSettle = Stopwatch.StartNew();
        double admitted, refused;
        do
        {
            await Task.Delay(500, cancellationToken);
            (admitted, refused) = await stack.AccountedAsync(cancellationToken);
            admitted -= admittedBefore;
            refused -= refusedBefore;
        }
        while (admitted + refused < all.Count && clockSettle.Elapsed < TimeSpan.FromSeconds(30));

        int streamed = all.Count(o => o.HttpStatus == 200);

        var result = new ScenarioResult("worker-kill");
        result.Check("streams on the killed worker end with an in-band error in time",
            failedInFlight.TrueForAll(o => o.ErrorKind == "stream_error") && slowest <= maxErrorSeconds,
            $"{failedInFlight.Count} of {inFlight.Count} streams in flight failed ({string.Join(", ", failedInFlight.GroupBy(o => o.ErrorKind).Select(g => $"{g.Key}: {g.Count()}"))}); the last {slowest:0.00} s after the kill (limit {maxErrorSeconds} s)");
        result.Check("traffic moves to the other workers", later.Count > 0 && later.TrueForAll(o => o.Success),
            $"{later.Count(o => o.Success)} of {later.Count} requests sent from 1 s after the kill served{(later.Any(o => !o.Success) ? ": " + string.Join("; ", later.Where(o => !o.Success).Take(3).Select(o => $"{o.ErrorKind} {o.ErrorMessage}")) : string.Empty)}");
        result.Check("no lost usage", admitted + refused == all.Count && admitted >= streamed,
            $"{all.Count} requests sent, {streamed} answered with a stream; metered {admitted} admitted (inference_request_total) + {refused} refused before admission (inference_request_rejections_total); failures: {string.Join(", ", all.Where(o => !o.Success).GroupBy(o => o.ErrorKind).Select(g => $"{g.Key}: {g.Count()}"))}");
        return result;
    }
}

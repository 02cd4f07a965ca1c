using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// quota-abuse: one key limited to --limit-rpm requests per minute, hammered with --factor (3) times that many
/// requests spread over every --base-url (gateway replicas sharing one Redis) at --concurrency. Exactly the limit is
/// served within the minute, none leaks through on any replica, and every refusal is a 429 with Retry-After.
/// </summary>
public static class QuotaAbuse
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        int limit = args.IntOrNull("--limit-rpm") ?? throw new ArgumentException("quota-abuse needs --limit-rpm N: the key's requests-per-minute limit");
        int factor = args.Int("--factor", 3);
        int concurrency = args.Int("--concurrency", 16);
        int total = limit * factor;
        var backends = Enumerable.Range(0, stack.BaseUrls.Count).Select(i => stack.Backend(i)).ToList();
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(total, 8, 1);
        var outcomes = new RequestOutcome[total];
        var perReplica = new int[backends.Count];
        int next = -1;
        var started = DateTimeOffset.UtcNow;
        log.WriteLine($"quota-abuse: {total} requests for a key allowed {limit} per minute over {backends.Count} replica(s)");
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            for (int i = Interlocked.Increment(ref next); i < total; i = Interlocked.Increment(ref next))
            {
                int replica = i % backends.Count;
                outcomes[i] = await backends[replica].SendAsync(prompts[i], cancellationToken);
                if (outcomes[i].Success)
                {
                    Interlocked.Increment(ref perReplica[replica]);
                }
            }
        }));
        double seconds = (DateTimeOffset.UtcNow - started).TotalSeconds;
        foreach (IServingBackend b in backends)
        {
            b.Dispose();
        }

        int served = outcomes.Count(o => o.Success);
        var refused = outcomes.Where(o => o.HttpStatus == 429).ToList();
        int other = total - served - refused.Count;
        var result = new ScenarioResult("quota-abuse");
        result.Check("none beyond the limit served", served <= limit, $"{served} served of {total} (limit {limit}; per replica {string.Join(", ", perReplica)}) in {seconds:0.0} s");
        result.Check("the limit itself is served", seconds >= 60 || served == limit, $"{served} served within {seconds:0.0} s of a {limit}-per-minute limit");
        result.Check("every refusal a 429 with Retry-After", other == 0 && refused.TrueForAll(o => o.RetryAfter),
            $"{refused.Count} refused with 429 ({refused.Count(o => o.RetryAfter)} with Retry-After), {other} other failures{(other > 0 ? ": " + string.Join("; ", outcomes.Where(o => !o.Success && o.HttpStatus != 429).Take(3).Select(o => $"{o.ErrorKind} {o.ErrorMessage}")) : string.Empty)}");
        return result;
    }
}

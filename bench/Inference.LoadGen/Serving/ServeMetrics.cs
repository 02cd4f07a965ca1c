namespace Inference.LoadGen.Serving;

/// <summary>
/// A run's results with vllm bench serve's definitions: duration from the first send to the last response;
/// throughputs over that duration; TTFT, TPOT ((latency − TTFT) / (output − 1), requests of more than one token),
/// ITL (every gap between streamed pieces, all requests together) and end-to-end latency over successful requests;
/// goodput: successful requests meeting every SLO, per second. Output tokens are the server's usage counts when it
/// sends them; <see cref="StreamedOutputThroughput"/> counts the pieces on the wire instead (the self-check).
/// </summary>
public sealed record ServeMetrics
{
    public required int Completed { get; init; }

    public required int Failed { get; init; }

    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }

    public required double DurationSeconds { get; init; }

    public required long TotalInputTokens { get; init; }

    public required long TotalOutputTokens { get; init; }

    /// <summary>Output tokens counted on the wire (chunks with text; gRPC token ids).</summary>
    public required long StreamedOutputTokens { get; init; }

    /// <summary>Completion tokens the server's usage reported; -1 when some successful request had no usage.</summary>
    public required long UsageOutputTokens { get; init; }

    public required double RequestThroughput { get; init; }

    /// <summary>Good requests per second; null when no SLO was given.</summary>
    public required double? RequestGoodput { get; init; }

    public required double OutputThroughput { get; init; }

    public required double StreamedOutputThroughput { get; init; }

    public required double TotalTokenThroughput { get; init; }

    /// <summary>Most output tokens finished within one wall-clock second of the run.</summary>
    public required double PeakOutputThroughput { get; init; }

    /// <summary>Most requests in flight at once.</summary>
    public required int PeakConcurrency { get; init; }

    public required LatencyStats Ttft { get; init; }

    public required LatencyStats Tpot { get; init; }

    public required LatencyStats Itl { get; init; }

    public required LatencyStats E2e { get; init; }

    /// <summary>|streamed − usage| / usage output tokens; null when the server reported no usage.</summary>
    public double? SelfCheckDeviation => UsageOutputTokens > 0 ? Math.Abs(StreamedOutputTokens - UsageOutputTokens) / (double)UsageOutputTokens : null;

    public static ServeMetrics Compute(IReadOnlyList<RequestOutcome> outcomes, double durationSeconds, Slo slo, IReadOnlyList<double> percentiles)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(slo);
        var ok = outcomes.Where(o => o.Success).ToList();
        double duration = Math.Max(durationSeconds, 1e-9);
        long output = ok.Sum(o => (long)o.OutputTokens);
        long streamed = ok.Sum(o => (long)o.StreamedTokens);
        long input = ok.Sum(o => (long)o.InputTokens);
        long usage = ok.Count > 0 && ok.All(o => o.UsageCompletionTokens >= 0) ? ok.Sum(o => (long)o.UsageCompletionTokens) : -1;
        var errors = outcomes.Where(o => !o.Success)
            .GroupBy(o => o.ErrorKind ?? "unknown")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());

        // Peak output throughput: tokens of requests finishing in each one-second bucket, by their end time
        // (each request's tokens counted at its end: a coarse but independent view next to the mean).
        var buckets = new Dictionary<long, long>();
        foreach (RequestOutcome o in ok)
        {
            long second = (long)Math.Floor(o.StartSeconds + o.Latency);
            buckets[second] = buckets.GetValueOrDefault(second) + o.OutputTokens;
        }

        return new ServeMetrics
        {
            Completed = ok.Count,
            Failed = outcomes.Count - ok.Count,
            ErrorsByKind = errors,
            DurationSeconds = durationSeconds,
            TotalInputTokens = input,
            TotalOutputTokens = output,
            StreamedOutputTokens = streamed,
            UsageOutputTokens = usage,
            RequestThroughput = ok.Count / duration,
            RequestGoodput = slo.IsEmpty ? null : ok.Count(slo.Meets) / duration,
            OutputThroughput = output / duration,
            StreamedOutputThroughput = streamed / duration,
            TotalTokenThroughput = (input + output) / duration,
            PeakOutputThroughput = buckets.Count == 0 ? 0 : buckets.Values.Max(),
            PeakConcurrency = PeakInFlight(outcomes),
            Ttft = LatencyStats.Of(ok.Select(o => o.Ttft).ToList(), percentiles),
            Tpot = LatencyStats.Of(ok.Where(o => o.OutputTokens > 1).Select(o => o.Tpot).ToList(), percentiles),
            Itl = LatencyStats.Of(ok.SelectMany(o => o.Itl).ToList(), percentiles),
            E2e = LatencyStats.Of(ok.Select(o => o.Latency).ToList(), percentiles),
        };
    }

    private static int PeakInFlight(IReadOnlyList<RequestOutcome> outcomes)
    {
        // Sweep over start (+1) and end (−1) events; an end at the same instant as a start counts first.
        var events = new List<(double At, int Delta)>(outcomes.Count * 2);
        foreach (RequestOutcome o in outcomes)
        {
            events.Add((o.StartSeconds, 1));
            events.Add((o.StartSeconds + o.Latency, -1));
        }

        events.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Delta.CompareTo(b.Delta));
        int current = 0, peak = 0;
        foreach ((_, int delta) in events)
        {
            current += delta;
            peak = Math.Max(peak, current);
        }

        return peak;
    }
}

namespace Inference.LoadGen.Sweeping;

/// <summary>One serve run of a sweep: a setting at a request rate, its measured percentiles and whether it met the SLO.</summary>
public sealed record SweepPoint
{
    public required IReadOnlyDictionary<string, string> Setting { get; init; }

    public required double Rate { get; init; }

    public required int Completed { get; init; }

    public required int Failed { get; init; }

    public required double RequestThroughput { get; init; }

    public required double OutputThroughput { get; init; }

    public double? Goodput { get; init; }

    /// <summary>TTFT, TPOT and end-to-end latency at the sweep's percentile, milliseconds.</summary>
    public required double TtftMs { get; init; }

    public required double TpotMs { get; init; }

    public required double E2eMs { get; init; }

    public required double MeanInputTokens { get; init; }

    public required double MeanOutputTokens { get; init; }

    public required bool Meets { get; init; }

    /// <summary>Why the point misses the SLO (empty when it meets it).</summary>
    public required string Reason { get; init; }
}

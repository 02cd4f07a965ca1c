namespace Inference.LoadGen.Serving;

/// <summary>Mean, median, standard deviation and chosen percentiles of one latency metric, in milliseconds.
/// Percentiles interpolate linearly between order statistics (numpy.percentile's default, as vLLM reports).</summary>
public sealed record LatencyStats(double Mean, double Median, double Std, IReadOnlyDictionary<double, double> Percentiles, int Count)
{
    public static LatencyStats Of(IReadOnlyList<double> secondsValues, IReadOnlyList<double> percentiles)
    {
        ArgumentNullException.ThrowIfNull(secondsValues);
        ArgumentNullException.ThrowIfNull(percentiles);
        var sorted = secondsValues.Select(v => v * 1000).ToArray();
        Array.Sort(sorted);
        var byPercentile = new SortedDictionary<double, double>();
        foreach (double p in percentiles)
        {
            byPercentile[p] = Percentile(sorted, p);
        }

        if (sorted.Length == 0)
        {
            return new LatencyStats(0, 0, 0, byPercentile, 0);
        }

        double mean = sorted.Average();
        double variance = sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length; // population std, as numpy.std
        return new LatencyStats(mean, Percentile(sorted, 50), Math.Sqrt(variance), byPercentile, sorted.Length);
    }

    /// <summary>The p-th percentile of ascending values, linear between closest ranks; 0 for none.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (p is < 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "a percentile is in [0, 100]");
        }

        if (sorted.Count == 0)
        {
            return 0;
        }

        double rank = p / 100 * (sorted.Count - 1);
        int low = (int)Math.Floor(rank);
        int high = Math.Min(low + 1, sorted.Count - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public double P(double percentile) => Percentiles.TryGetValue(percentile, out double v) ? v : double.NaN;
}

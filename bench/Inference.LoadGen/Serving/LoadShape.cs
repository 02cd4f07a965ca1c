namespace Inference.LoadGen.Serving;

/// <summary>How requests arrive: open-loop at <see cref="RequestRate"/> per second (gamma-distributed gaps with shape
/// <see cref="Burstiness"/>: 1 is Poisson, below 1 burstier, above 1 steadier; infinity sends all at once), capped at
/// <see cref="MaxConcurrency"/> in flight when given (later arrivals wait on the client for a slot, as in vLLM).</summary>
public sealed record LoadShape
{
    public double RequestRate { get; init; } = double.PositiveInfinity;

    public double Burstiness { get; init; } = 1.0;

    public int? MaxConcurrency { get; init; }

    public int Seed { get; init; }

    /// <summary>Send times in seconds from the start, one per request.</summary>
    public double[] Schedule(int count)
    {
        if (RequestRate <= 0 || double.IsNaN(RequestRate))
        {
            throw new ArgumentException($"--request-rate must be > 0 or inf (got {RequestRate})");
        }

        if (Burstiness <= 0 || !double.IsFinite(Burstiness))
        {
            throw new ArgumentException($"--burstiness must be a positive number (got {Burstiness})");
        }

        if (MaxConcurrency is < 1)
        {
            throw new ArgumentException($"--max-concurrency must be >= 1 (got {MaxConcurrency})");
        }

        var times = new double[count];
        if (double.IsPositiveInfinity(RequestRate))
        {
            return times;
        }

        // Gamma(shape k, scale θ) with k·θ = 1/rate: the mean gap is 1/rate whatever the burstiness.
        var random = new Random(Seed);
        double theta = 1.0 / (RequestRate * Burstiness);
        double at = 0;
        for (int i = 1; i < count; i++)
        {
            at += Gamma(Burstiness, random) * theta;
            times[i] = at;
        }

        return times;
    }

    /// <summary>A Gamma(shape, 1) draw (Marsaglia and Tsang; shapes below 1 through the boost u^(1/k)).</summary>
    internal static double Gamma(double shape, Random random)
    {
        if (shape < 1)
        {
            return Gamma(shape + 1, random) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        }

        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + c * x;
            }
            while (v <= 0);

            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v))
            {
                return d * v;
            }
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

public sealed class LoadShapeTests
{
    private const int Draws = 20_000;

    private static double[] Gaps(double rate, double burstiness, int seed = 1)
    {
        double[] times = new LoadShape { RequestRate = rate, Burstiness = burstiness, Seed = seed }.Schedule(Draws + 1);
        var gaps = new double[Draws];
        for (int i = 0; i < Draws; i++)
        {
            gaps[i] = times[i + 1] - times[i];
        }

        return gaps;
    }

    private static double SquaredCoefficientOfVariation(double[] gaps)
    {
        double mean = gaps.Average();
        double variance = gaps.Sum(g => (g - mean) * (g - mean)) / gaps.Length;
        return variance / (mean * mean);
    }

    [Fact]
    public void Schedule_InfiniteRate_EveryRequestAtZero()
    {
        double[] times = new LoadShape().Schedule(50);

        Assert.Equal(50, times.Length);
        Assert.All(times, t => Assert.Equal(0, t));
    }

    [Fact]
    public void Schedule_FiniteRate_StartsAtZeroAndAscends()
    {
        double[] times = new LoadShape { RequestRate = 5 }.Schedule(100);

        Assert.Equal(0, times[0]);
        for (int i = 1; i < times.Length; i++)
        {
            Assert.True(times[i] >= times[i - 1], $"times[{i}] = {times[i]} < times[{i - 1}] = {times[i - 1]}");
        }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(4.0)]
    public void Schedule_AnyBurstiness_MeanGapIsOneOverRate(double burstiness)
    {
        double mean = Gaps(rate: 10, burstiness).Average();

        Assert.InRange(mean, 0.1 * 0.97, 0.1 * 1.03);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(4.0)]
    public void Schedule_Burstiness_SquaredCoefficientOfVariationIsItsInverse(double burstiness)
    {
        // Gamma(k, θ) gaps: CV² = 1/k. 20,000 draws estimate it within a few percent (10 % allowed).
        double cv2 = SquaredCoefficientOfVariation(Gaps(rate: 10, burstiness));

        Assert.InRange(cv2, 0.9 / burstiness, 1.1 / burstiness);
    }

    [Fact]
    public void Schedule_LowerBurstiness_BurstierArrivals()
    {
        double bursty = SquaredCoefficientOfVariation(Gaps(10, 0.5));
        double poisson = SquaredCoefficientOfVariation(Gaps(10, 1));
        double steady = SquaredCoefficientOfVariation(Gaps(10, 4));

        Assert.True(bursty > poisson, $"CV² at burstiness 0.5 ({bursty}) should exceed Poisson's ({poisson})");
        Assert.True(steady < poisson, $"CV² at burstiness 4 ({steady}) should be below Poisson's ({poisson})");
    }

    [Fact]
    public void Schedule_SameSeed_SameSchedule_OtherSeed_Different()
    {
        var shape = new LoadShape { RequestRate = 3, Burstiness = 0.7, Seed = 42 };

        Assert.Equal(shape.Schedule(200), shape.Schedule(200));
        Assert.NotEqual(shape.Schedule(200), (shape with { Seed = 43 }).Schedule(200));
    }

    [Theory]
    [InlineData(0, 1, null, "--request-rate")]
    [InlineData(-2, 1, null, "--request-rate")]
    [InlineData(double.NaN, 1, null, "--request-rate")]
    [InlineData(1, 0, null, "--burstiness")]
    [InlineData(1, double.PositiveInfinity, null, "--burstiness")]
    [InlineData(1, 1, 0, "--max-concurrency")]
    public void Schedule_BadValue_ThrowsNamingTheOption(double rate, double burstiness, int? maxConcurrency, string option)
    {
        var shape = new LoadShape { RequestRate = rate, Burstiness = burstiness, MaxConcurrency = maxConcurrency };

        ArgumentException ex = Assert.Throws<ArgumentException>(() => shape.Schedule(1));

        Assert.Contains(option, ex.Message, StringComparison.Ordinal);
    }
}

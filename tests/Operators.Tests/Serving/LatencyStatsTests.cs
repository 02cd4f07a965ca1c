using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

/// <summary>Expected values from numpy 1.26 (numpy.percentile's default "linear" method, numpy.std's population
/// std): python -c "import numpy as np; a=[1,2,3,4]; print(np.percentile(a,[50,90,99]), np.mean(a), np.std(a))".</summary>
public sealed class LatencyStatsTests
{
    private const double Tolerance = 1e-9;

    [Fact]
    public void Of_FourValues_MatchesNumpy()
    {
        // Seconds in, milliseconds out; unsorted on purpose.
        LatencyStats stats = LatencyStats.Of([0.004, 0.001, 0.003, 0.002], [50, 90, 99]);

        Assert.Equal(4, stats.Count);
        Assert.Equal(2.5, stats.Mean, Tolerance);
        Assert.Equal(2.5, stats.Median, Tolerance);
        Assert.Equal(2.5, stats.P(50), Tolerance);
        Assert.Equal(3.7, stats.P(90), Tolerance);
        Assert.Equal(3.97, stats.P(99), Tolerance);
        Assert.Equal(Math.Sqrt(1.25), stats.Std, Tolerance); // population: sum of squares / n, not n − 1
    }

    [Fact]
    public void Percentile_SkewedValues_InterpolatesBetweenClosestRanks()
    {
        // np.percentile([1,2,3,4,10], [25, 75, 99]) = [2.0, 4.0, 9.76]
        double[] sorted = [1, 2, 3, 4, 10];

        Assert.Equal(2.0, LatencyStats.Percentile(sorted, 25), Tolerance);
        Assert.Equal(4.0, LatencyStats.Percentile(sorted, 75), Tolerance);
        Assert.Equal(9.76, LatencyStats.Percentile(sorted, 99), Tolerance);
        Assert.Equal(1.0, LatencyStats.Percentile(sorted, 0), Tolerance);
        Assert.Equal(10.0, LatencyStats.Percentile(sorted, 100), Tolerance);
    }

    [Fact]
    public void Of_SingleValue_EveryStatisticIsThatValue()
    {
        LatencyStats stats = LatencyStats.Of([0.25], [50, 99]);

        Assert.Equal(1, stats.Count);
        Assert.Equal(250, stats.Mean, Tolerance);
        Assert.Equal(250, stats.Median, Tolerance);
        Assert.Equal(250, stats.P(99), Tolerance);
        Assert.Equal(0, stats.Std, Tolerance);
    }

    [Fact]
    public void Of_NoValues_AllZero()
    {
        LatencyStats stats = LatencyStats.Of([], [90, 99]);

        Assert.Equal(0, stats.Count);
        Assert.Equal(0, stats.Mean);
        Assert.Equal(0, stats.Median);
        Assert.Equal(0, stats.Std);
        Assert.Equal(0, stats.P(90));
        Assert.Equal(0, stats.P(99));
    }

    [Fact]
    public void P_PercentileNotComputed_IsNaN()
    {
        LatencyStats stats = LatencyStats.Of([0.001], [90]);

        Assert.True(double.IsNaN(stats.P(95)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100.5)]
    public void Percentile_OutOfRange_Throws(double p)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyStats.Percentile([1.0, 2.0], p));
    }
}

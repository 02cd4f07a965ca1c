namespace Inference.LoadGen.Planning;

/// <summary>
/// A plan's inputs after precedence (command line, then sweep file, then plan file, then default) and range checks:
/// what <see cref="PlanCalculator"/> computes from, and the assumptions every report lists.
/// </summary>
internal sealed record PlanInputs
{
    public string Title { get; init; } = "GPU plan";

    public string Currency { get; init; } = "USD";

    public required string GpuName { get; init; }

    /// <summary>Purchase price of one GPU.</summary>
    public required double GpuPrice { get; init; }

    public required double GpuTdpWatts { get; init; }

    public required double GpuIdleWatts { get; init; }

    public double? GpuMemoryGb { get; init; }

    /// <summary>The host's price per GPU it carries.</summary>
    public required double HostPrice { get; init; }

    /// <summary>The host's power per GPU it carries.</summary>
    public required double HostWatts { get; init; }

    public required double AmortisationMonths { get; init; }

    public required double ElectricityPricePerKwh { get; init; }

    public required double Pue { get; init; }

    public double CloudPerGpuPerMonth { get; init; }

    public double CloudFixedPerMonth { get; init; }

    public double? MonthlyBudget { get; init; }

    public required MeasuredCapacity Capacity { get; init; }

    /// <summary>Work of one prompt token relative to one generated token.</summary>
    public double PrefillWeight { get; init; } = 0.1;

    public required double RequestsPerUserPerMinute { get; init; }

    public required double InputTokens { get; init; }

    public required double OutputTokens { get; init; }

    public required double PeakFactor { get; init; }

    public double MaxUtilisation { get; init; } = 0.85;

    public double TargetLow { get; init; } = 0.60;

    public double TargetHigh { get; init; } = 0.85;

    public required IReadOnlyList<GrowthPhase> Phases { get; init; }

    /// <summary>Every value above with its source, then the model's constants; in report order.</summary>
    public IReadOnlyList<Assumption> Assumptions { get; init; } = [];

    /// <summary>The <c>--plan</c> file, when one was read.</summary>
    public string? PlanFile { get; init; }

    /// <summary>The <c>--sweep</c> file, when one was read.</summary>
    public string? SweepFile { get; init; }
}

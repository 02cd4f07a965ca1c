namespace Inference.LoadGen.Planning;

/// <summary>One growth phase, planned: GPUs, utilisation, power and monthly cost.</summary>
internal sealed record PhasePlan
{
    public required GrowthPhase Phase { get; init; }

    /// <summary>Requests per second on average (users × requests per user per minute / 60).</summary>
    public required double AverageRequestRate { get; init; }

    /// <summary>Requests per second at the peak (average × peak factor).</summary>
    public required double PeakRequestRate { get; init; }

    public required long Gpus { get; init; }

    /// <summary>Average request rate / (GPUs × capacity at the forecast shape).</summary>
    public required double UtilisationAverage { get; init; }

    /// <summary>Peak request rate / (GPUs × capacity at the forecast shape).</summary>
    public required double UtilisationPeak { get; init; }

    /// <summary>Power per GPU at the average utilisation, host share included, before PUE.</summary>
    public required double WattsPerGpu { get; init; }

    /// <summary>Energy per month drawn from the grid (PUE included).</summary>
    public required double EnergyKwhPerMonth { get; init; }

    /// <summary>GPUs × (GPU price + host share) / amortisation months.</summary>
    public required double HardwareCostPerMonth { get; init; }

    public required double ElectricityCostPerMonth { get; init; }

    /// <summary>GPUs × per-GPU extras + fixed extras.</summary>
    public required double CloudCostPerMonth { get; init; }

    public required double TotalCostPerMonth { get; init; }

    /// <summary>Monthly cost / thousands of requests per month at the average rate.</summary>
    public required double CostPerThousandRequests { get; init; }

    /// <summary>Monthly cost / millions of generated tokens per month at the average rate.</summary>
    public required double CostPerMillionOutputTokens { get; init; }

    /// <summary>True when the average utilisation is under the target band (GPUs sized for the peak idle on average).</summary>
    public required bool BelowTargetBand { get; init; }

    /// <summary>True when the average utilisation is over the target band.</summary>
    public required bool AboveTargetBand { get; init; }

    /// <summary>True when the peak utilisation exceeds max utilisation (cannot happen by construction; checked anyway).</summary>
    public required bool PeakOverMaxUtilisation { get; init; }

    /// <summary>Whether the total fits the monthly budget; null when no budget was given.</summary>
    public required bool? FitsBudget { get; init; }

    /// <summary>The utilisation flags in words, as every report prints them (the budget has its own column).</summary>
    public IReadOnlyList<string> Flags
    {
        get
        {
            var flags = new List<string>(3);
            if (BelowTargetBand)
            {
                flags.Add("below band");
            }

            if (AboveTargetBand)
            {
                flags.Add("above band");
            }

            if (PeakOverMaxUtilisation)
            {
                flags.Add("peak over max");
            }

            return flags;
        }
    }
}

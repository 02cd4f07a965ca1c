namespace Inference.LoadGen.Planning;

/// <summary>The planner's arithmetic, in one place: shape conversion, GPUs per phase, utilisation, power and cost.</summary>
internal static class PlanCalculator
{
    /// <summary>Hours in an average month: 365 × 24 / 12.</summary>
    public const double HoursPerMonth = 730;

    private const double SecondsPerMonth = HoursPerMonth * 3600;

    // A ratio this close to a whole number counts as it: 459 users at 1 req/min and peak factor 2 need exactly
    // 15.3 / (6 × 0.85) = 3 GPUs, which doubles compute as 3.0000000000000004 (ceil would say 4).
    private const double RelativeTolerance = 1e-9;

    /// <summary>The model's own assumptions, listed after the settings in every report.</summary>
    public static readonly IReadOnlyList<Assumption> ModelAssumptions =
    [
        new("hours_per_month", PlanFormat.Number(HoursPerMonth), HoursPerMonth, "h", SettingSource.Model, "model",
            "Hours in a month (365 × 24 / 12)", "every GPU runs around the clock; none is switched off off-peak"),
        new("work_per_request", "output_tokens + prefill_weight × input_tokens", null, string.Empty,
            SettingSource.Model, "model", "Work of one request",
            "capacity at the forecast shape = measured capacity × work(measured shape) / work(forecast shape)"),
        new("gpus_per_phase", "max(1, ceil(peak req/s / (capacity req/s × max_utilisation)))", null, string.Empty,
            SettingSource.Model, "model", "GPUs for a phase",
            "capacity adds up linearly over GPUs and the load spreads evenly; the peak lasts long enough to be sized for"),
        new("power_per_gpu", "idle + (tdp − idle) × average utilisation + host watts", null, string.Empty, SettingSource.Model,
            "model", "Power of one GPU and its host share", "power is linear in utilisation between idle and TDP"),
        new("monthly_cost", "hardware / amortisation_months + kWh × PUE × price + extras", null, string.Empty,
            SettingSource.Model, "model", "Monthly cost",
            "no financing cost, resale value, staff or spare GPUs; extras = per GPU × GPUs + fixed"),
    ];

    /// <summary>Work of one request, in generated-token equivalents.</summary>
    public static double WorkPerRequest(double inputTokens, double outputTokens, double prefillWeight) =>
        outputTokens + (prefillWeight * inputTokens);

    /// <summary>The measured capacity at the forecast's request shape.</summary>
    public static CapacityConversion ConvertCapacity(PlanInputs inputs)
    {
        MeasuredCapacity measured = inputs.Capacity;
        double measuredWork = WorkPerRequest(measured.InputTokens, measured.OutputTokens, inputs.PrefillWeight);
        double forecastWork = WorkPerRequest(inputs.InputTokens, inputs.OutputTokens, inputs.PrefillWeight);
        double rate = measured.RequestRatePerGpu * measuredWork / forecastWork;
        return new CapacityConversion(measuredWork, forecastWork, rate, rate * inputs.MaxUtilisation);
    }

    /// <summary>GPUs that serve <paramref name="peakRequestRate"/> with none above max utilisation; at least one.</summary>
    public static long GpusFor(double peakRequestRate, double plannedRequestRatePerGpu)
    {
        double ratio = peakRequestRate / plannedRequestRatePerGpu;
        return Math.Max(1, (long)Math.Ceiling(ratio - (RelativeTolerance * Math.Max(1, ratio))));
    }

    /// <summary>Plans every phase of <paramref name="inputs"/>.</summary>
    public static PlanResult Compute(PlanInputs inputs)
    {
        CapacityConversion conversion = ConvertCapacity(inputs);
        var phases = new List<PhasePlan>(inputs.Phases.Count);
        foreach (GrowthPhase phase in inputs.Phases)
        {
            phases.Add(ComputePhase(inputs, conversion, phase));
        }

        return new PlanResult(inputs, conversion, phases, Notes(inputs, conversion, phases));
    }

    private static PhasePlan ComputePhase(PlanInputs inputs, CapacityConversion conversion, GrowthPhase phase)
    {
        double average = phase.ConcurrentUsers * inputs.RequestsPerUserPerMinute / 60;
        double peak = average * inputs.PeakFactor;
        long gpus = GpusFor(peak, conversion.PlannedRequestRatePerGpu);
        double fleetRate = gpus * conversion.RequestRatePerGpu;
        double utilisationAverage = average / fleetRate;
        double utilisationPeak = peak / fleetRate;

        double watts = inputs.GpuIdleWatts + ((inputs.GpuTdpWatts - inputs.GpuIdleWatts) * utilisationAverage) + inputs.HostWatts;
        double kwh = gpus * watts * inputs.Pue * HoursPerMonth / 1000;
        double hardware = gpus * (inputs.GpuPrice + inputs.HostPrice) / inputs.AmortisationMonths;
        double electricity = kwh * inputs.ElectricityPricePerKwh;
        double cloud = (gpus * inputs.CloudPerGpuPerMonth) + inputs.CloudFixedPerMonth;
        double total = hardware + electricity + cloud;
        double requestsPerMonth = average * SecondsPerMonth;

        return new PhasePlan
        {
            Phase = phase,
            AverageRequestRate = average,
            PeakRequestRate = peak,
            Gpus = gpus,
            UtilisationAverage = utilisationAverage,
            UtilisationPeak = utilisationPeak,
            WattsPerGpu = watts,
            EnergyKwhPerMonth = kwh,
            HardwareCostPerMonth = hardware,
            ElectricityCostPerMonth = electricity,
            CloudCostPerMonth = cloud,
            TotalCostPerMonth = total,
            CostPerThousandRequests = total / (requestsPerMonth / 1000),
            CostPerMillionOutputTokens = total / (requestsPerMonth * inputs.OutputTokens / 1_000_000),
            BelowTargetBand = utilisationAverage < inputs.TargetLow,
            AboveTargetBand = utilisationAverage > inputs.TargetHigh,
            PeakOverMaxUtilisation = utilisationPeak > inputs.MaxUtilisation * (1 + RelativeTolerance),
            FitsBudget = inputs.MonthlyBudget is { } budget ? total <= budget : null,
        };
    }

    private static List<string> Notes(PlanInputs inputs, CapacityConversion conversion, List<PhasePlan> phases)
    {
        var notes = new List<string>();
        double ceiling = inputs.MaxUtilisation / inputs.PeakFactor;
        if (ceiling < inputs.TargetLow)
        {
            notes.Add(
                $"With peak factor {PlanFormat.Number(inputs.PeakFactor)} and max utilisation {PlanFormat.Number(inputs.MaxUtilisation)}, "
                + $"the average utilisation cannot exceed {PlanFormat.Number(ceiling)} (max / peak factor), below the target band's "
                + $"{PlanFormat.Number(inputs.TargetLow)}: GPUs sized for the peak idle on average. The band is reachable only with "
                + $"a peak factor ≤ {PlanFormat.Number(inputs.MaxUtilisation / inputs.TargetLow)} (smoother traffic, queued batch work "
                + "off-peak) or by scaling the fleet with the daily curve.");
        }

        if (Math.Abs(conversion.MeasuredWork - conversion.ForecastWork) > RelativeTolerance * conversion.ForecastWork)
        {
            notes.Add(
                $"The capacity was measured at {PlanFormat.Number(inputs.Capacity.InputTokens)}/{PlanFormat.Number(inputs.Capacity.OutputTokens)} "
                + $"input/output tokens and is converted to the forecast's {PlanFormat.Number(inputs.InputTokens)}/{PlanFormat.Number(inputs.OutputTokens)} "
                + $"by work per request ({PlanFormat.Number(conversion.MeasuredWork)} → {PlanFormat.Number(conversion.ForecastWork)}): "
                + "a first-order estimate; measure at the forecast shape with bench sweep to replace it.");
        }

        if (inputs.Capacity.Source == PlanSettings.CapacitySource.DefaultText)
        {
            notes.Add("The capacity's source is not stated (capacity.source): say where the figure was measured.");
        }

        if (inputs.MonthlyBudget is { } budget)
        {
            string[] over = phases.Where(p => p.FitsBudget == false).Select(p => p.Phase.Name).ToArray();
            notes.Add(over.Length == 0
                ? $"Every phase fits the monthly budget of {PlanFormat.Money(budget)} {inputs.Currency}."
                : $"Over the monthly budget of {PlanFormat.Money(budget)} {inputs.Currency}: {string.Join(", ", over)}.");
        }

        if (phases.Any(p => p.PeakOverMaxUtilisation))
        {
            notes.Add("A phase's peak utilisation exceeds max utilisation: the GPU count is wrong; please report this.");
        }

        return notes;
    }
}

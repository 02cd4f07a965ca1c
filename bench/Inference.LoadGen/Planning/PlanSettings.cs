namespace Inference.LoadGen.Planning;

/// <summary>
/// Every setting of a plan, in report order. Adding a setting here gives it a plan-file field, a command-line option,
/// a line in <c>--help</c> and a line in every report's assumptions.
/// </summary>
internal static class PlanSettings
{
    public static readonly PlanSetting Title = new("title", "--title", SettingKind.Text, "", "Title of the plan")
    {
        DefaultText = "GPU plan",
    };

    public static readonly PlanSetting Currency = new("currency", "--currency", SettingKind.Text, "", "Currency of every price")
    {
        DefaultText = "USD",
    };

    public static readonly PlanSetting GpuName = new("gpu.name", "--gpu-name", SettingKind.Text, "", "GPU model");

    public static readonly PlanSetting GpuPrice = new(
        "gpu.price", "--gpu-price", SettingKind.Number, "{currency}", "Purchase price of one GPU") { Min = 0 };

    public static readonly PlanSetting GpuTdpWatts = new(
        "gpu.tdp_watts", "--gpu-tdp-watts", SettingKind.Number, "W", "GPU board power at full load") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting GpuIdleWatts = new(
        "gpu.idle_watts", "--gpu-idle-watts", SettingKind.Number, "W", "GPU board power when idle") { Min = 0 };

    public static readonly PlanSetting GpuMemoryGb = new(
        "gpu.memory_gb", "--gpu-memory-gb", SettingKind.Number, "GB",
        "GPU memory (informational: the capacity must have been measured on this GPU)")
    {
        Optional = true,
        Min = 0,
        MinExclusive = true,
    };

    public static readonly PlanSetting HostPrice = new(
        "host_per_gpu.price", "--host-price", SettingKind.Number, "{currency}",
        "Share of a host (CPU, memory, board, chassis, network) per GPU") { Min = 0 };

    public static readonly PlanSetting HostWatts = new(
        "host_per_gpu.watts", "--host-watts", SettingKind.Number, "W", "Share of the host's power per GPU") { Min = 0 };

    public static readonly PlanSetting AmortisationMonths = new(
        "amortisation_months", "--amortisation-months", SettingKind.Number, "months",
        "Months over which GPU and host are written off") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting ElectricityPrice = new(
        "electricity_price_per_kwh", "--electricity-price", SettingKind.Number, "{currency}/kWh", "Electricity price")
    {
        Min = 0,
    };

    public static readonly PlanSetting Pue = new(
        "pue", "--pue", SettingKind.Number, "", "Power usage effectiveness: facility power / IT power") { Min = 1 };

    public static readonly PlanSetting CloudPerGpu = new(
        "cloud.per_gpu_per_month", "--cloud-per-gpu", SettingKind.Number, "{currency}/GPU/month",
        "Extras per GPU per month (colocation, rental, licences)")
    {
        DefaultNumber = 0,
        Min = 0,
    };

    public static readonly PlanSetting CloudFixed = new(
        "cloud.fixed_per_month", "--cloud-fixed", SettingKind.Number, "{currency}/month",
        "Fixed extras per month (gateway hosts, storage, monitoring, egress)")
    {
        DefaultNumber = 0,
        Min = 0,
    };

    public static readonly PlanSetting MonthlyBudget = new(
        "monthly_budget", "--budget", SettingKind.Number, "{currency}/month", "Monthly budget each phase is checked against")
    {
        Optional = true,
        Min = 0,
        MinExclusive = true,
    };

    public static readonly PlanSetting CapacityRate = new(
        "capacity.request_rate_per_gpu", "--capacity-rps", SettingKind.Number, "req/s",
        "Request rate one GPU sustains within the SLO (measured)") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting CapacityInputTokens = new(
        "capacity.input_tokens", "--capacity-input-tokens", SettingKind.Number, "tokens",
        "Mean prompt tokens per request the capacity was measured at") { Min = 0 };

    public static readonly PlanSetting CapacityOutputTokens = new(
        "capacity.output_tokens", "--capacity-output-tokens", SettingKind.Number, "tokens",
        "Mean generated tokens per request the capacity was measured at") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting CapacitySource = new(
        "capacity.source", "--capacity-source", SettingKind.Text, "", "Where the capacity figure comes from")
    {
        DefaultText = "not stated",
    };

    public static readonly PlanSetting PrefillWeight = new(
        "prefill_weight", "--prefill-weight", SettingKind.Number, "",
        "Work of one prompt token relative to one generated token")
    {
        DefaultNumber = 0.1,
        Min = 0,
    };

    public static readonly PlanSetting RequestsPerUserPerMinute = new(
        "traffic.requests_per_user_per_minute", "--rpm", SettingKind.Number, "req/user/min",
        "Requests one concurrent user sends per minute") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting InputTokens = new(
        "traffic.input_tokens_per_request", "--input-tokens", SettingKind.Number, "tokens",
        "Forecast mean prompt tokens per request") { Min = 0 };

    public static readonly PlanSetting OutputTokens = new(
        "traffic.output_tokens_per_request", "--output-tokens", SettingKind.Number, "tokens",
        "Forecast mean generated tokens per request") { Min = 0, MinExclusive = true };

    public static readonly PlanSetting PeakFactor = new(
        "traffic.peak_factor", "--peak-factor", SettingKind.Number, "", "Peak request rate / average request rate")
    {
        Min = 1,
    };

    public static readonly PlanSetting MaxUtilisation = new(
        "max_utilisation", "--max-utilisation", SettingKind.Number, "",
        "Highest fraction of the capacity a GPU is planned to run at, at the peak")
    {
        DefaultNumber = 0.85,
        Min = 0,
        MinExclusive = true,
        Max = 1,
    };

    public static readonly PlanSetting TargetLow = new(
        "target_band.low", "--target-low", SettingKind.Number, "", "Low end of the target band for the average utilisation")
    {
        DefaultNumber = 0.60,
        Min = 0,
        MinExclusive = true,
        Max = 1,
    };

    public static readonly PlanSetting TargetHigh = new(
        "target_band.high", "--target-high", SettingKind.Number, "", "High end of the target band for the average utilisation")
    {
        DefaultNumber = 0.85,
        Min = 0,
        MinExclusive = true,
        Max = 1,
    };

    /// <summary>The capacity fields a <c>--sweep</c> file supplies (and which its presence takes from the plan file).</summary>
    public static readonly IReadOnlyList<PlanSetting> CapacityFromSweep =
        [CapacityRate, CapacityInputTokens, CapacityOutputTokens, CapacitySource];

    /// <summary>Every setting, in the order the reports list them.</summary>
    public static readonly IReadOnlyList<PlanSetting> All =
    [
        Title, Currency,
        GpuName, GpuPrice, GpuTdpWatts, GpuIdleWatts, GpuMemoryGb,
        HostPrice, HostWatts,
        AmortisationMonths, ElectricityPrice, Pue, CloudPerGpu, CloudFixed, MonthlyBudget,
        CapacityRate, CapacityInputTokens, CapacityOutputTokens, CapacitySource, PrefillWeight,
        RequestsPerUserPerMinute, InputTokens, OutputTokens, PeakFactor,
        MaxUtilisation, TargetLow, TargetHigh,
    ];

    /// <summary>Settings by plan-file path.</summary>
    public static readonly IReadOnlyDictionary<string, PlanSetting> ByKey = All.ToDictionary(s => s.Key, StringComparer.Ordinal);

    /// <summary>Settings by command-line option.</summary>
    public static readonly IReadOnlyDictionary<string, PlanSetting> ByOption = All.ToDictionary(s => s.Option, StringComparer.Ordinal);
}

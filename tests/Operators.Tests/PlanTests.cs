using System.Reflection;
using System.Text.Json;
using System.Xml.Linq;
using Inference.LoadGen.Planning;

namespace Inference.Operators.Tests;

/// <summary>
/// bench plan: the arithmetic on hand-computed cases, the plan and sweep files, precedence, and the reports. Expected
/// numbers are worked out by hand in the comments next to them, not copied from the planner's output.
/// </summary>
public sealed class PlanTests : IDisposable
{
    private const double Tolerance = 1e-9;

    private readonly string _temp = Path.Combine(Path.GetTempPath(), "plan-tests-" + Guid.NewGuid().ToString("N"));

    public PlanTests() => Directory.CreateDirectory(_temp);

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string ExamplePlan => Path.Combine(
        typeof(PlanTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!,
        "deploy", "plan", "business-phases.json");

    // 10 req/s per GPU at 100/100 tokens, forecast 100/100 (no conversion), one user = 1 req/s (60 per minute).
    private static PlanInputs Inputs(params long[] users) => new()
    {
        GpuName = "test GPU",
        GpuPrice = 1200,
        GpuTdpWatts = 450,
        GpuIdleWatts = 50,
        HostPrice = 600,
        HostWatts = 100,
        AmortisationMonths = 12,
        ElectricityPricePerKwh = 0.2,
        Pue = 1.5,
        CloudPerGpuPerMonth = 10,
        CloudFixedPerMonth = 100,
        Capacity = new MeasuredCapacity(10, 100, 100, "test", []),
        PrefillWeight = 0.1,
        RequestsPerUserPerMinute = 60,
        InputTokens = 100,
        OutputTokens = 100,
        PeakFactor = 2,
        MaxUtilisation = 0.5,
        TargetLow = 0.6,
        TargetHigh = 0.85,
        Phases = users.Select(u => new GrowthPhase($"{u} users", u)).ToArray(),
    };

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = PlanCommand.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_temp, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string MinimalPlan = """
        {
          "gpu": { "name": "small GPU", "price": 1000, "tdp_watts": 300, "idle_watts": 20 },
          "host_per_gpu": { "price": 500, "watts": 50 },
          "amortisation_months": 24,
          "electricity_price_per_kwh": 0.1,
          "pue": 1.2,
          "capacity": { "request_rate_per_gpu": 5, "input_tokens": 200, "output_tokens": 100, "source": "test" },
          "traffic": { "requests_per_user_per_minute": 2, "input_tokens_per_request": 200, "output_tokens_per_request": 100, "peak_factor": 2 },
          "phases": [ { "name": "one", "concurrent_users": 10 }, { "name": "two", "concurrent_users": 20 } ]
        }
        """;

    private const string Sweep = """
        {
          "points": [ { "rate": 4 }, { "rate": 8 } ],
          "recommended": {
            "max_good_request_rate": 7.5,
            "mean_input_tokens": 400,
            "mean_output_tokens": 200,
            "setting": { "max_num_seqs": "64", "kv_cache_dtype": "bf16" }
          }
        }
        """;

    [Fact]
    public void Compute_PeakExactlyAtMaxUtilisation_NoExtraGpu()
    {
        // 5 users: 5 req/s average, 10 at the peak; a GPU is planned at 10 × 0.5 = 5 req/s, so exactly 2 GPUs.
        // 6 users: 12 req/s at the peak, 2.4 GPUs' worth, so 3.
        PlanResult result = PlanCalculator.Compute(Inputs(5, 6));

        Assert.Equal(2, result.Phases[0].Gpus);
        Assert.Equal(0.5, result.Phases[0].UtilisationPeak, Tolerance);
        Assert.Equal(0.25, result.Phases[0].UtilisationAverage, Tolerance);
        Assert.False(result.Phases[0].PeakOverMaxUtilisation);
        Assert.Equal(3, result.Phases[1].Gpus);
    }

    [Fact]
    public void Compute_BoundaryWithDecimalFractions_ExactBoundaryNeedsNoExtraGpu()
    {
        // 6 req/s per GPU at max 0.85 = 5.1 req/s planned; 459 users at 1 req/min = 7.65 req/s, peak 15.3: exactly
        // 3 GPUs (in doubles 15.3 / 5.1 is 3.0000000000000004). 460 users: peak 15.33, just over, so 4.
        PlanInputs inputs = Inputs(459, 460) with
        {
            Capacity = new MeasuredCapacity(6, 100, 100, "test", []),
            MaxUtilisation = 0.85,
            RequestsPerUserPerMinute = 1,
        };

        PlanResult result = PlanCalculator.Compute(inputs);

        Assert.Equal(3, result.Phases[0].Gpus);
        Assert.Equal(0.85, result.Phases[0].UtilisationPeak, Tolerance);
        Assert.False(result.Phases[0].PeakOverMaxUtilisation);
        Assert.Equal(4, result.Phases[1].Gpus);
    }

    [Fact]
    public void Compute_TinyLoad_AtLeastOneGpu()
    {
        PlanInputs inputs = Inputs(1) with { RequestsPerUserPerMinute = 1 };

        PhasePlan phase = PlanCalculator.Compute(inputs).Phases[0];

        // 1/60 req/s average on one 10 req/s GPU.
        Assert.Equal(1, phase.Gpus);
        Assert.Equal(1.0 / 60 / 10, phase.UtilisationAverage, Tolerance);
        Assert.True(phase.BelowTargetBand);
    }

    [Fact]
    public void ConvertCapacity_LongerRequests_ScalesByWorkPerRequest()
    {
        // Measured 6 req/s at 500/250: work 250 + 0.1 × 500 = 300. Forecast 1000/500: work 600. Half the rate.
        PlanInputs inputs = Inputs(1) with
        {
            Capacity = new MeasuredCapacity(6, 500, 250, "test", []),
            InputTokens = 1000,
            OutputTokens = 500,
            MaxUtilisation = 0.85,
        };

        CapacityConversion conversion = PlanCalculator.ConvertCapacity(inputs);

        Assert.Equal(300, conversion.MeasuredWork, Tolerance);
        Assert.Equal(600, conversion.ForecastWork, Tolerance);
        Assert.Equal(3, conversion.RequestRatePerGpu, Tolerance);
        Assert.Equal(2.55, conversion.PlannedRequestRatePerGpu, Tolerance);
    }

    [Fact]
    public void ConvertCapacity_ZeroPrefillWeight_OnlyOutputTokensCount()
    {
        // Work 100 measured (prompts free), 200 forecast: 8 req/s becomes 4.
        PlanInputs inputs = Inputs(1) with
        {
            Capacity = new MeasuredCapacity(8, 2000, 100, "test", []),
            PrefillWeight = 0,
            InputTokens = 0,
            OutputTokens = 200,
        };

        Assert.Equal(4, PlanCalculator.ConvertCapacity(inputs).RequestRatePerGpu, Tolerance);
    }

    [Fact]
    public void Compute_PowerAndCost_MatchHandComputation()
    {
        // 10 users: 10 req/s average, 20 at the peak; planned 5 req/s per GPU → 4 GPUs. Use max 1.0 instead for
        // round numbers: planned 10 req/s → 2 GPUs, average utilisation 10 / 20 = 0.5.
        PlanInputs inputs = Inputs(10) with { MaxUtilisation = 1.0 };

        PhasePlan phase = PlanCalculator.Compute(inputs).Phases[0];

        Assert.Equal(2, phase.Gpus);
        Assert.Equal(0.5, phase.UtilisationAverage, Tolerance);
        // Power: 50 + (450 − 50) × 0.5 + 100 host = 350 W per GPU.
        Assert.Equal(350, phase.WattsPerGpu, Tolerance);
        // Energy: 2 × 350 W × 1.5 PUE × 730 h / 1000 = 766.5 kWh; at 0.2 per kWh = 153.3.
        Assert.Equal(766.5, phase.EnergyKwhPerMonth, Tolerance);
        Assert.Equal(153.3, phase.ElectricityCostPerMonth, Tolerance);
        // Hardware: 2 × (1200 + 600) / 12 = 300. Extras: 2 × 10 + 100 = 120. Total 573.3.
        Assert.Equal(300, phase.HardwareCostPerMonth, Tolerance);
        Assert.Equal(120, phase.CloudCostPerMonth, Tolerance);
        Assert.Equal(573.3, phase.TotalCostPerMonth, Tolerance);
        // 10 req/s × 730 h × 3600 s = 26,280,000 requests a month, 2.628e9 output tokens (100 each).
        Assert.Equal(573.3 / 26_280, phase.CostPerThousandRequests, Tolerance);
        Assert.Equal(573.3 / 2_628, phase.CostPerMillionOutputTokens, Tolerance);
    }

    [Fact]
    public void Compute_Budget_SaysPerPhaseWhetherItFits()
    {
        // 10 users cost 573.3 (above); 40 users: 40 req/s, 80 peak → 8 GPUs at max 1.0, hardware alone 1,200.
        PlanInputs inputs = Inputs(10, 40) with { MaxUtilisation = 1.0, MonthlyBudget = 1000 };

        PlanResult result = PlanCalculator.Compute(inputs);

        Assert.True(result.Phases[0].FitsBudget);
        Assert.False(result.Phases[1].FitsBudget);
        Assert.Contains(result.Notes, n => n.Contains("40 users", StringComparison.Ordinal));
        Assert.Null(PlanCalculator.Compute(Inputs(10)).Phases[0].FitsBudget);
    }

    [Fact]
    public void Compute_PeakFactorTwo_AverageBelowBandFlaggedAndExplained()
    {
        // Peak at most 0.5 of capacity with peak factor 2 → average at most 0.25 < 0.6.
        PlanResult result = PlanCalculator.Compute(Inputs(5));

        Assert.True(result.Phases[0].BelowTargetBand);
        Assert.Contains("below band", result.Phases[0].Flags);
        Assert.Contains(result.Notes, n => n.Contains("cannot exceed 0.25", StringComparison.Ordinal));
    }

    [Fact]
    public void Compute_SmoothTraffic_AverageInBandNotFlagged()
    {
        // Peak factor 1, max 0.8: 8 users → 8 req/s on one 10 req/s GPU = 0.8, inside 0.6–0.85.
        PlanResult result = PlanCalculator.Compute(Inputs(8) with { PeakFactor = 1, MaxUtilisation = 0.8 });

        Assert.Equal(1, result.Phases[0].Gpus);
        Assert.Empty(result.Phases[0].Flags);
    }

    [Fact]
    public void Resolve_SweepFile_GivesCapacityAndItsSetting()
    {
        string plan = Write("plan.json", MinimalPlan);
        string sweep = Write("sweep.json", Sweep);

        PlanInputs inputs = PlanInputsResolver.Resolve(PlanArguments.Parse(["--plan", plan, "--sweep", sweep]));

        Assert.Equal(7.5, inputs.Capacity.RequestRatePerGpu);
        Assert.Equal(400, inputs.Capacity.InputTokens);
        Assert.Equal(200, inputs.Capacity.OutputTokens);
        Assert.Equal([new("max_num_seqs", "64"), new("kv_cache_dtype", "bf16")], inputs.Capacity.Setting);
        Assert.Equal(SettingSource.SweepFile, inputs.Assumptions.Single(a => a.Key == "capacity.request_rate_per_gpu").Source);
        Assert.Equal(SettingSource.SweepFile, inputs.Assumptions.Single(a => a.Key == "capacity.source").Source);
    }

    [Fact]
    public void Run_SweepFile_PrintsSetting()
    {
        string plan = Write("plan.json", MinimalPlan);
        string sweep = Write("sweep.json", Sweep);

        (int code, string output, string error) = Run("--plan", plan, "--sweep", sweep);

        Assert.True(code == 0, error);
        Assert.Contains("setting: max_num_seqs=64, kv_cache_dtype=bf16", output, StringComparison.Ordinal);
        Assert.Contains($"Sweep file: {sweep}", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mean_output_tokens")]
    [InlineData("max_good_request_rate")]
    [InlineData("setting")]
    public void Run_SweepFieldMissing_ErrorNamesFileAndField(string field)
    {
        using JsonDocument sweep = JsonDocument.Parse(Sweep);
        var recommended = sweep.RootElement.GetProperty("recommended").EnumerateObject()
            .Where(p => p.Name != field)
            .ToDictionary(p => p.Name, p => p.Value);
        string path = Write("sweep.json", JsonSerializer.Serialize(new { recommended }));

        (int code, _, string error) = Run("--plan", Write("plan.json", MinimalPlan), "--sweep", path);

        Assert.Equal(2, code);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains($"'recommended.{field}'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_SweepSettingNotString_ErrorNamesField()
    {
        string path = Write("sweep.json", Sweep.Replace("\"64\"", "64", StringComparison.Ordinal));

        (int code, _, string error) = Run("--plan", Write("plan.json", MinimalPlan), "--sweep", path);

        Assert.Equal(2, code);
        Assert.Contains("'recommended.setting.max_num_seqs' must be a string", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_SweepAndCapacityRps_Rejected()
    {
        (int code, _, string error) = Run(
            "--plan", Write("plan.json", MinimalPlan), "--sweep", Write("sweep.json", Sweep), "--capacity-rps", "3");

        Assert.Equal(2, code);
        Assert.Contains("--capacity-rps", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_PlanFileUnknownField_ErrorNamesFileAndField()
    {
        string path = Write("plan.json", MinimalPlan.Replace("\"peak_factor\"", "\"peak_facter\"", StringComparison.Ordinal));

        (int code, _, string error) = Run("--plan", path);

        Assert.Equal(2, code);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains("'traffic.peak_facter'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_PlanFileMissingRequiredField_ErrorNamesFieldAndOption()
    {
        string path = Write("plan.json", MinimalPlan.Replace("\"price\": 1000, ", string.Empty, StringComparison.Ordinal));

        (int code, _, string error) = Run("--plan", path);

        Assert.Equal(2, code);
        Assert.Contains("'gpu.price'", error, StringComparison.Ordinal);
        Assert.Contains("--gpu-price", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_PlanFileWrongType_ErrorNamesField()
    {
        string path = Write("plan.json", MinimalPlan.Replace("\"pue\": 1.2", "\"pue\": \"1.2\"", StringComparison.Ordinal));

        (int code, _, string error) = Run("--plan", path);

        Assert.Equal(2, code);
        Assert.Contains("'pue' must be a number", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_IdleAboveTdp_ErrorNamesBothFields()
    {
        (int code, _, string error) = Run("--plan", Write("plan.json", MinimalPlan), "--gpu-idle-watts", "400");

        Assert.Equal(2, code);
        Assert.Contains("gpu.idle_watts", error, StringComparison.Ordinal);
        Assert.Contains("gpu.tdp_watts", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--peak-facter", "2", "--peak-facter")]
    [InlineData("--peak-factor", "two", "--peak-factor")]
    [InlineData("--max-utilisation", "1.5", "--max-utilisation")]
    [InlineData("--users", "100,-5", "--users")]
    public void Run_BadOption_Exit2NamingIt(string option, string value, string named)
    {
        (int code, _, string error) = Run("--plan", Write("plan.json", MinimalPlan), option, value);

        Assert.Equal(2, code);
        Assert.Contains(named, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_CommandLine_OverridesPlanFileAndKeepsTheRest()
    {
        string plan = Write("plan.json", MinimalPlan);

        PlanInputs inputs = PlanInputsResolver.Resolve(
            PlanArguments.Parse(["--plan", plan, "--peak-factor", "3", "--users", "100,500", "--gpu-price=2500"]));

        Assert.Equal(3, inputs.PeakFactor);
        Assert.Equal(2500, inputs.GpuPrice);
        Assert.Equal([100L, 500L], inputs.Phases.Select(p => p.ConcurrentUsers));
        Assert.Equal(2, inputs.RequestsPerUserPerMinute);
        Assert.Equal(0.85, inputs.MaxUtilisation);
        Assert.Equal(SettingSource.CommandLine, Source(inputs, "traffic.peak_factor"));
        Assert.Equal(SettingSource.CommandLine, Source(inputs, "gpu.price"));
        Assert.Equal(SettingSource.CommandLine, Source(inputs, "phases"));
        Assert.Equal(SettingSource.PlanFile, Source(inputs, "traffic.requests_per_user_per_minute"));
        Assert.Equal(SettingSource.Default, Source(inputs, "max_utilisation"));
        Assert.Equal(SettingSource.Default, Source(inputs, "prefill_weight"));
    }

    [Fact]
    public void Resolve_CapacityRpsOnCommandLine_SourceTextSaysSo()
    {
        PlanInputs inputs = PlanInputsResolver.Resolve(
            PlanArguments.Parse(["--plan", Write("plan.json", MinimalPlan), "--capacity-rps", "9"]));

        Assert.Equal(9, inputs.Capacity.RequestRatePerGpu);
        Assert.Equal(200, inputs.Capacity.InputTokens);
        Assert.Contains("command line", inputs.Capacity.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ExamplePlan_PhasesParseAndGpusNeverShrink()
    {
        PlanInputs inputs = PlanInputsResolver.Resolve(PlanArguments.Parse(["--plan", ExamplePlan]));

        PlanResult result = PlanCalculator.Compute(inputs);

        Assert.Equal([100L, 500L, 3000L, 7000L, 10000L], inputs.Phases.Select(p => p.ConcurrentUsers));
        Assert.Contains("5090", inputs.GpuName, StringComparison.Ordinal);
        for (int i = 1; i < result.Phases.Count; i++)
        {
            Assert.True(result.Phases[i].Gpus >= result.Phases[i - 1].Gpus, $"phase {i} needs fewer GPUs than phase {i - 1}");
        }

        Assert.All(result.Phases, p => Assert.True(p.UtilisationPeak <= inputs.MaxUtilisation + Tolerance));
        // Every assumption the example makes is either from the file or a stated default; no setting is missing.
        Assert.DoesNotContain(inputs.Assumptions, a => a.Value == "not given");
    }

    [Fact]
    public void Run_WithOut_WritesJsonMarkdownAndSvgListingEveryAssumption()
    {
        string output = Path.Combine(_temp, "report");

        (int code, string console, string error) = Run("--plan", ExamplePlan, "--out", output, "--budget", "12345");

        Assert.True(code == 0, error);
        PlanInputs inputs = PlanInputsResolver.Resolve(PlanArguments.Parse(["--plan", ExamplePlan, "--budget", "12345"]));
        string[] keys = inputs.Assumptions.Select(a => a.Key).ToArray();
        Assert.Contains("hours_per_month", keys);

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "plan.json")));
        JsonElement[] assumptions = json.RootElement.GetProperty("assumptions").EnumerateArray().ToArray();
        Assert.Equal(keys, assumptions.Select(a => a.GetProperty("key").GetString()));
        JsonElement budget = assumptions.Single(a => a.GetProperty("key").GetString() == "monthly_budget");
        Assert.Equal(12345, budget.GetProperty("value").GetDouble());
        Assert.Equal("command line", budget.GetProperty("source").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("phases").GetArrayLength());

        string markdown = File.ReadAllText(Path.Combine(output, "plan.md"));
        Assert.Contains("](plan.svg)", markdown, StringComparison.Ordinal);
        Assert.Contains("## Assumptions", markdown, StringComparison.Ordinal);

        XDocument svg = XDocument.Load(Path.Combine(output, "plan.svg"));
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Contains(svg.Descendants(), e => e.Name.LocalName == "text" && e.Value.Contains("Monthly cost", StringComparison.Ordinal));

        foreach (string key in keys)
        {
            Assert.Contains($"`{key}`", markdown, StringComparison.Ordinal);
            Assert.Contains($"  {key} ", console, StringComparison.Ordinal);
        }

        Assert.Contains("Reports: " + Path.Combine(output, "plan.json"), console, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Help_Exit0ListsEveryOption()
    {
        (int code, string output, _) = Run("--help");

        Assert.Equal(0, code);
        Assert.All(PlanSettings.All, s => Assert.Contains(s.Option, output, StringComparison.Ordinal));
    }

    private static SettingSource Source(PlanInputs inputs, string key) => inputs.Assumptions.Single(a => a.Key == key).Source;
}

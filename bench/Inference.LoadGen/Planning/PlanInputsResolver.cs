using System.Globalization;

namespace Inference.LoadGen.Planning;

/// <summary>
/// Decides each setting once, by precedence: command line, then the sweep file (capacity only), then the plan file,
/// then the setting's default; a required setting nobody gave, or a value out of range, is an error naming it and
/// where it came from. Records every decision as an <see cref="Assumption"/>.
/// </summary>
internal static class PlanInputsResolver
{
    /// <summary>Reads the files <paramref name="args"/> names and resolves the plan's inputs.</summary>
    /// <exception cref="PlanInputException">A file or value is unusable; the message names the option or field.</exception>
    public static PlanInputs Resolve(PlanArguments args)
    {
        PlanFileContents? plan = args.PlanFile is null ? null : PlanFileReader.Read(args.PlanFile);
        MeasuredCapacity? sweep = args.SweepFile is null ? null : SweepFileReader.Read(args.SweepFile);
        return Resolve(args, plan, sweep, args.SweepFile);
    }

    /// <summary>Resolves from contents already read (tests give them directly).</summary>
    public static PlanInputs Resolve(PlanArguments args, PlanFileContents? plan, MeasuredCapacity? sweep, string? sweepPath)
    {
        var resolved = new Dictionary<string, Resolved>(StringComparer.Ordinal);
        foreach (PlanSetting setting in PlanSettings.All)
        {
            Resolved? value = ResolveOne(setting, args, plan, sweep, sweepPath);
            if (value is not null)
            {
                resolved[setting.Key] = value.Value;
            }
        }

        // A rate typed on the command line is no longer what the plan file's source text describes.
        if (resolved[PlanSettings.CapacityRate.Key].Source == SettingSource.CommandLine
            && resolved[PlanSettings.CapacitySource.Key].Source != SettingSource.CommandLine)
        {
            resolved[PlanSettings.CapacitySource.Key] = new Resolved(
                new RawValue(null, $"given on the command line ({PlanSettings.CapacityRate.Option})", PlanSettings.CapacityRate.Option),
                SettingSource.CommandLine);
        }

        Check(resolved, PlanSettings.GpuIdleWatts, PlanSettings.GpuTdpWatts, "must not exceed");
        Check(resolved, PlanSettings.TargetLow, PlanSettings.TargetHigh, "must not exceed");

        (IReadOnlyList<GrowthPhase> phases, SettingSource phasesSource, string phasesOrigin) = ResolvePhases(args, plan);

        string currency = Text(resolved, PlanSettings.Currency);
        var assumptions = new List<Assumption>(PlanSettings.All.Count + 8);
        foreach (PlanSetting setting in PlanSettings.All)
        {
            assumptions.Add(ToAssumption(setting, resolved, plan, sweep, currency));
        }

        assumptions.Add(new Assumption(
            PlanFileReader.PhasesKey,
            string.Join("; ", phases.Select(p => $"{p.Name}: {PlanFormat.Whole(p.ConcurrentUsers)}")),
            null,
            "concurrent users",
            phasesSource,
            phasesOrigin,
            "Growth phases and their concurrent users",
            phasesSource == SettingSource.PlanFile ? plan?.Notes.GetValueOrDefault(PlanFileReader.PhasesKey) : null));
        assumptions.AddRange(PlanCalculator.ModelAssumptions);

        var capacity = new MeasuredCapacity(
            Number(resolved, PlanSettings.CapacityRate),
            Number(resolved, PlanSettings.CapacityInputTokens),
            Number(resolved, PlanSettings.CapacityOutputTokens),
            Text(resolved, PlanSettings.CapacitySource),
            sweep?.Setting ?? []);

        return new PlanInputs
        {
            Title = Text(resolved, PlanSettings.Title),
            Currency = currency,
            GpuName = Text(resolved, PlanSettings.GpuName),
            GpuPrice = Number(resolved, PlanSettings.GpuPrice),
            GpuTdpWatts = Number(resolved, PlanSettings.GpuTdpWatts),
            GpuIdleWatts = Number(resolved, PlanSettings.GpuIdleWatts),
            GpuMemoryGb = resolved.TryGetValue(PlanSettings.GpuMemoryGb.Key, out Resolved memory) ? memory.Raw.Number : null,
            HostPrice = Number(resolved, PlanSettings.HostPrice),
            HostWatts = Number(resolved, PlanSettings.HostWatts),
            AmortisationMonths = Number(resolved, PlanSettings.AmortisationMonths),
            ElectricityPricePerKwh = Number(resolved, PlanSettings.ElectricityPrice),
            Pue = Number(resolved, PlanSettings.Pue),
            CloudPerGpuPerMonth = Number(resolved, PlanSettings.CloudPerGpu),
            CloudFixedPerMonth = Number(resolved, PlanSettings.CloudFixed),
            MonthlyBudget = resolved.TryGetValue(PlanSettings.MonthlyBudget.Key, out Resolved budget) ? budget.Raw.Number : null,
            Capacity = capacity,
            PrefillWeight = Number(resolved, PlanSettings.PrefillWeight),
            RequestsPerUserPerMinute = Number(resolved, PlanSettings.RequestsPerUserPerMinute),
            InputTokens = Number(resolved, PlanSettings.InputTokens),
            OutputTokens = Number(resolved, PlanSettings.OutputTokens),
            PeakFactor = Number(resolved, PlanSettings.PeakFactor),
            MaxUtilisation = Number(resolved, PlanSettings.MaxUtilisation),
            TargetLow = Number(resolved, PlanSettings.TargetLow),
            TargetHigh = Number(resolved, PlanSettings.TargetHigh),
            Phases = phases,
            Assumptions = assumptions,
            PlanFile = plan?.Path,
            SweepFile = sweep is null ? null : sweepPath,
        };
    }

    private static Resolved? ResolveOne(
        PlanSetting setting, PlanArguments args, PlanFileContents? plan, MeasuredCapacity? sweep, string? sweepPath)
    {
        Resolved value;
        if (args.Overrides.TryGetValue(setting.Key, out RawValue fromCommandLine))
        {
            value = new Resolved(fromCommandLine, SettingSource.CommandLine);
        }
        else if (sweep is not null && PlanSettings.CapacityFromSweep.Contains(setting))
        {
            value = new Resolved(FromSweep(setting, sweep, sweepPath ?? "sweep file"), SettingSource.SweepFile);
        }
        else if (plan is not null && plan.Values.TryGetValue(setting.Key, out RawValue fromPlan))
        {
            value = new Resolved(fromPlan, SettingSource.PlanFile);
        }
        else if (setting.HasDefault)
        {
            value = new Resolved(new RawValue(setting.DefaultNumber, setting.DefaultText, "default"), SettingSource.Default);
        }
        else if (setting.Optional)
        {
            return null;
        }
        else
        {
            string where = plan is null
                ? $"no --plan file was given; give {setting.Option}"
                : $"set '{setting.Key}' in plan file {plan.Path} or give {setting.Option}";
            throw new PlanInputException($"missing setting '{setting.Key}' ({setting.Description}): {where}.");
        }

        if (setting.Kind == SettingKind.Number && !setting.Accepts(value.Raw.Number!.Value))
        {
            throw new PlanInputException(
                $"{Where(setting, value)} must be {setting.RangeText}, got {value.Raw.Number.Value.ToString(CultureInfo.InvariantCulture)}.");
        }

        return value;
    }

    private static RawValue FromSweep(PlanSetting setting, MeasuredCapacity sweep, string path)
    {
        if (setting == PlanSettings.CapacityRate)
        {
            return new RawValue(sweep.RequestRatePerGpu, null, path);
        }

        if (setting == PlanSettings.CapacityInputTokens)
        {
            return new RawValue(sweep.InputTokens, null, path);
        }

        return setting == PlanSettings.CapacityOutputTokens
            ? new RawValue(sweep.OutputTokens, null, path)
            : new RawValue(null, sweep.Source, path);
    }

    private static (IReadOnlyList<GrowthPhase>, SettingSource, string) ResolvePhases(PlanArguments args, PlanFileContents? plan)
    {
        if (args.Users is not null)
        {
            GrowthPhase[] phases = args.Users.Select(u => new GrowthPhase($"{PlanFormat.Whole(u)} users", u)).ToArray();
            return (phases, SettingSource.CommandLine, "--users");
        }

        if (plan?.Phases is not null)
        {
            return (plan.Phases, SettingSource.PlanFile, plan.Path);
        }

        string where = plan is null ? "no --plan file was given; give --users" : $"set 'phases' in plan file {plan.Path} or give --users";
        throw new PlanInputException($"missing setting 'phases' (growth phases and their concurrent users): {where}.");
    }

    private static void Check(Dictionary<string, Resolved> resolved, PlanSetting lower, PlanSetting upper, string relation)
    {
        Resolved low = resolved[lower.Key];
        Resolved high = resolved[upper.Key];
        if (low.Raw.Number > high.Raw.Number)
        {
            throw new PlanInputException(
                $"{Where(lower, low)} ({PlanFormat.Number(low.Raw.Number!.Value)}) {relation} "
                + $"'{upper.Key}' ({PlanFormat.Number(high.Raw.Number!.Value)}, {Assumption.SourceName(high.Source)} {high.Raw.Origin}).");
        }
    }

    private static string Where(PlanSetting setting, Resolved value) => value.Source switch
    {
        SettingSource.CommandLine => $"option {setting.Option} ('{setting.Key}')",
        SettingSource.PlanFile => $"plan file {value.Raw.Origin}: field '{setting.Key}'",
        SettingSource.SweepFile => $"sweep file {value.Raw.Origin}: '{setting.Key}'",
        _ => $"the default of '{setting.Key}'",
    };

    private static Assumption ToAssumption(
        PlanSetting setting, Dictionary<string, Resolved> resolved, PlanFileContents? plan, MeasuredCapacity? sweep, string currency)
    {
        if (!resolved.TryGetValue(setting.Key, out Resolved value))
        {
            return new Assumption(
                setting.Key, "not given", null, string.Empty, SettingSource.Default, "default", setting.Description,
                plan?.Notes.GetValueOrDefault(setting.Key));
        }

        string? note = value.Source switch
        {
            SettingSource.SweepFile when sweep is { Setting.Count: > 0 } =>
                "measured with setting " + string.Join(", ", sweep.Setting.Select(kv => $"{kv.Key}={kv.Value}")),
            SettingSource.PlanFile or SettingSource.Default => plan?.Notes.GetValueOrDefault(setting.Key),
            _ => null,
        };
        string shown = value.Raw.Text ?? PlanFormat.Number(value.Raw.Number!.Value);
        return new Assumption(
            setting.Key, shown, value.Raw.Number, setting.UnitFor(currency), value.Source, value.Raw.Origin, setting.Description, note);
    }

    private static double Number(Dictionary<string, Resolved> resolved, PlanSetting setting) => resolved[setting.Key].Raw.Number!.Value;

    private static string Text(Dictionary<string, Resolved> resolved, PlanSetting setting) => resolved[setting.Key].Raw.Text!;

    private readonly record struct Resolved(RawValue Raw, SettingSource Source);
}

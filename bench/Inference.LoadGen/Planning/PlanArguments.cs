using System.Globalization;

namespace Inference.LoadGen.Planning;

/// <summary>
/// The command line of <c>bench plan</c>: files to read, where to write, and overrides of plan settings (one option per
/// <see cref="PlanSettings"/> entry, plus <c>--users</c> for the phases).
/// </summary>
internal sealed class PlanArguments
{
    public string? PlanFile { get; private set; }

    public string? SweepFile { get; private set; }

    public string? OutDirectory { get; private set; }

    /// <summary>Concurrent users per phase from <c>--users</c>; null when not given.</summary>
    public IReadOnlyList<long>? Users { get; private set; }

    public bool Help { get; private set; }

    /// <summary>Setting overrides by setting key.</summary>
    public IReadOnlyDictionary<string, RawValue> Overrides => _overrides;

    private readonly Dictionary<string, RawValue> _overrides = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/>; <c>--name value</c> or <c>--name=value</c>, each option at most once.</summary>
    /// <exception cref="PlanInputException">An unknown, repeated or malformed option, naming it.</exception>
    public static PlanArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new PlanArguments();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h")
            {
                parsed.Help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new PlanInputException($"unexpected argument '{arg}': options are --name value (see --help).");
            }

            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }

            if (!IsKnown(name))
            {
                throw new PlanInputException($"unknown option '{name}' (see --help for the options).");
            }

            if (!seen.Add(name))
            {
                throw new PlanInputException($"option {name} is given more than once.");
            }

            if (value is null)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new PlanInputException($"option {name} needs a value.");
                }

                value = args[++i];
            }

            parsed.Set(name, value);
        }

        if (parsed.SweepFile is not null)
        {
            foreach (PlanSetting setting in PlanSettings.CapacityFromSweep)
            {
                if (parsed._overrides.ContainsKey(setting.Key))
                {
                    throw new PlanInputException(
                        $"--sweep and {setting.Option} exclude each other: the sweep file gives the capacity.");
                }
            }
        }

        return parsed;
    }

    private static bool IsKnown(string name) =>
        name is "--plan" or "--sweep" or "--out" or "--users" || PlanSettings.ByOption.ContainsKey(name);

    private void Set(string name, string value)
    {
        if (value.Length == 0)
        {
            throw new PlanInputException($"option {name} needs a value.");
        }

        switch (name)
        {
            case "--plan":
                PlanFile = value;
                return;
            case "--sweep":
                SweepFile = value;
                return;
            case "--out":
                OutDirectory = value;
                return;
            case "--users":
                Users = ParseUsers(value);
                return;
        }

        PlanSetting setting = PlanSettings.ByOption[name];
        if (setting.Kind == SettingKind.Text)
        {
            _overrides[setting.Key] = new RawValue(null, value, name);
            return;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number)
            || !double.IsFinite(number))
        {
            throw new PlanInputException($"option {name} must be a number, got '{value}'.");
        }

        _overrides[setting.Key] = new RawValue(number, null, name);
    }

    private static long[] ParseUsers(string value)
    {
        string[] parts = value.Split(',', StringSplitOptions.TrimEntries);
        var users = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out users[i]) || users[i] < 1)
            {
                throw new PlanInputException(
                    $"option --users must be a comma-separated list of whole numbers ≥ 1 (e.g. 100,500), got '{value}'.");
            }
        }

        return users;
    }

    /// <summary>The text of <c>--help</c>, generated from the settings catalogue.</summary>
    public static string Usage()
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("Usage: bench plan --plan FILE [--sweep FILE] [--out DIR] [overrides]");
        text.AppendLine();
        text.AppendLine("GPUs, utilisation and monthly cost per growth phase, from a measured capacity and a traffic forecast.");
        text.AppendLine("Options on the command line override the plan file's fields; --sweep replaces the plan file's capacity.");
        text.AppendLine();
        text.AppendLine("  --plan FILE                    plan file (JSON; example: deploy/plan/business-phases.json)");
        text.AppendLine("  --sweep FILE                   bench sweep result: capacity from its 'recommended' object");
        text.AppendLine("  --out DIR                      write plan.json, plan.md and plan.svg to DIR");
        text.AppendLine("  --users N,N,...                concurrent users per phase (replaces the plan file's phases)");
        foreach (PlanSetting setting in PlanSettings.All)
        {
            string option = setting.Option + (setting.Kind == SettingKind.Text ? " TEXT" : " X");
            string origin = setting.HasDefault
                ? $"; default {(setting.DefaultText ?? PlanFormat.Number(setting.DefaultNumber!.Value))}"
                : setting.Optional ? "; optional" : string.Empty;
            text.AppendLine(CultureInfo.InvariantCulture, $"  {option,-30} {setting.Key}: {setting.Description}{origin}");
        }

        text.AppendLine("  --help                         this text");
        return text.ToString();
    }
}

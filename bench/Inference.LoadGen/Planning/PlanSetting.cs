using System.Globalization;

namespace Inference.LoadGen.Planning;

/// <summary>
/// One setting of a plan, decided once: its plan-file path, its command-line option, its unit, its default and its
/// range. The plan-file reader, the argument parser, the resolver and every report read this definition.
/// </summary>
/// <param name="Key">The dotted plan-file path (<c>traffic.peak_factor</c>), also the assumption's name.</param>
/// <param name="Option">The command-line option that overrides it (<c>--peak-factor</c>).</param>
/// <param name="Kind">Number or text.</param>
/// <param name="Unit">The unit shown after a value; <c>{currency}</c> stands for the plan's currency.</param>
/// <param name="Description">What it is, for <c>--help</c> and the reports.</param>
internal sealed record PlanSetting(string Key, string Option, SettingKind Kind, string Unit, string Description)
{
    /// <summary>The value used when neither a file nor the command line gives one; null: none.</summary>
    public double? DefaultNumber { get; init; }

    /// <summary>The text used when neither a file nor the command line gives one; null: none.</summary>
    public string? DefaultText { get; init; }

    /// <summary>True when the plan works without it (no default, no error).</summary>
    public bool Optional { get; init; }

    /// <summary>The smallest allowed number.</summary>
    public double Min { get; init; } = double.NegativeInfinity;

    /// <summary>True when <see cref="Min"/> itself is not allowed.</summary>
    public bool MinExclusive { get; init; }

    /// <summary>The largest allowed number (inclusive).</summary>
    public double Max { get; init; } = double.PositiveInfinity;

    /// <summary>True when the setting has a default.</summary>
    public bool HasDefault => DefaultNumber is not null || DefaultText is not null;

    /// <summary>True when <paramref name="value"/> is finite and within the range.</summary>
    public bool Accepts(double value) =>
        double.IsFinite(value) && (MinExclusive ? value > Min : value >= Min) && value <= Max;

    /// <summary>The range in words, for error messages: "a number > 0 and ≤ 1".</summary>
    public string RangeText
    {
        get
        {
            var parts = new List<string>(2);
            if (!double.IsNegativeInfinity(Min))
            {
                parts.Add((MinExclusive ? "> " : "≥ ") + Min.ToString(CultureInfo.InvariantCulture));
            }

            if (!double.IsPositiveInfinity(Max))
            {
                parts.Add("≤ " + Max.ToString(CultureInfo.InvariantCulture));
            }

            return parts.Count == 0 ? "a number" : "a number " + string.Join(" and ", parts);
        }
    }

    /// <summary>The unit with the currency filled in ("USD/kWh"); empty when the setting has none.</summary>
    public string UnitFor(string currency) => Unit.Replace("{currency}", currency, StringComparison.Ordinal);
}

using System.Globalization;

namespace Inference.LoadGen.Planning;

/// <summary>How numbers read in every report: invariant culture, thousands separated, no trailing zeros.</summary>
internal static class PlanFormat
{
    /// <summary>A setting's value: "2,000", "0.85", "0.1".</summary>
    public static string Number(double value) => value.ToString("#,0.####", CultureInfo.InvariantCulture);

    /// <summary>An amount of money: whole units from 100 up, cents below, four places under one.</summary>
    public static string Money(double value)
    {
        double magnitude = Math.Abs(value);
        string format = magnitude >= 100 ? "#,0" : magnitude >= 1 ? "#,0.00" : "0.0000";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary>A request rate: two decimals.</summary>
    public static string Rate(double value) => value.ToString("#,0.00", CultureInfo.InvariantCulture);

    /// <summary>A fraction as a percentage with one decimal: 0.4213 → "42.1%".</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>A whole quantity: "24,253".</summary>
    public static string Whole(double value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}

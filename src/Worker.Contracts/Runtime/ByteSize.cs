using System.Globalization;

namespace Inference.Worker.Runtime;

/// <summary>Parses sizes such as 1073741824, 512MiB, 2GiB, 1.5GB (decimal units are powers of 1000).</summary>
public static class ByteSize
{
    public static long Parse(string value, string optionName)
    {
        ArgumentNullException.ThrowIfNull(value);
        string v = value.Trim();
        int split = 0;
        while (split < v.Length && (char.IsDigit(v[split]) || v[split] == '.'))
        {
            split++;
        }

        string unit = v[split..].Trim().ToUpperInvariant();
        double multiplier = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" => 1e3,
            "KI" or "KIB" => 1024,
            "M" or "MB" => 1e6,
            "MI" or "MIB" => 1024 * 1024,
            "G" or "GB" => 1e9,
            "GI" or "GIB" => 1024.0 * 1024 * 1024,
            _ => double.NaN,
        };
        if (split == 0 || double.IsNaN(multiplier) || !double.TryParse(v[..split], NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || number <= 0)
        {
            throw new ArgumentException($"{optionName} '{value}' is not a size (examples: 1073741824, 512MiB, 2GiB).", nameof(value));
        }

        return (long)(number * multiplier);
    }
}

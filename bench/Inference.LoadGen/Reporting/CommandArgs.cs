using System.Globalization;

namespace Inference.LoadGen.Reporting;

/// <summary>
/// "--name value" and "--flag" arguments checked against the options a command knows: an unknown option, a missing
/// or malformed value is an <see cref="ArgumentException"/> naming the option, so a typo never silently runs the
/// default.
/// </summary>
public sealed class CommandArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    /// <param name="multiValueOptions">Options that take every following argument up to the next option
    /// (vLLM's nargs="+", e.g. --goodput ttft:500 e2el:3000).</param>
    public CommandArgs(IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flagOptions, IReadOnlyCollection<string>? multiValueOptions = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(valueOptions);
        ArgumentNullException.ThrowIfNull(flagOptions);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            if (flagOptions.Contains(arg) && inline is null)
            {
                _flags.Add(arg);
            }
            else if (valueOptions.Contains(arg))
            {
                string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value"));
                if (!_values.TryGetValue(arg, out List<string>? list))
                {
                    _values[arg] = list = [];
                }

                list.Add(value);
                while (multiValueOptions is not null && multiValueOptions.Contains(arg) && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    list.Add(args[++i]);
                }
            }
            else
            {
                throw new ArgumentException($"unknown option {arg} (known: {string.Join(", ", valueOptions.Concat(flagOptions).Order(StringComparer.Ordinal))})");
            }
        }
    }

    public bool Has(string option) => _values.ContainsKey(option) || _flags.Contains(option);

    public bool Flag(string option) => _flags.Contains(option);

    public string? String(string option) => _values.TryGetValue(option, out List<string>? v) ? v[^1] : null;

    public IReadOnlyList<string> All(string option) => _values.TryGetValue(option, out List<string>? v) ? v : [];

    public int Int(string option, int fallback) => String(option) is { } s ? ParseInt(option, s) : fallback;

    public int? IntOrNull(string option) => String(option) is { } s ? ParseInt(option, s) : null;

    public double Double(string option, double fallback) => String(option) is { } s ? ParseDouble(option, s) : fallback;

    public double? DoubleOrNull(string option) => String(option) is { } s ? ParseDouble(option, s) : null;

    public static int ParseInt(string option, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"{option} {text}: not an integer");

    /// <summary>A number; "inf" is positive infinity (an unbounded request rate).</summary>
    public static double ParseDouble(string option, string text) =>
        text is "inf" or "Infinity" ? double.PositiveInfinity
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && !double.IsNaN(v) ? v
        : throw new ArgumentException($"{option} {text}: not a number");

    public static IReadOnlyList<double> ParseDoubles(string option, string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => ParseDouble(option, t)).ToList();
}

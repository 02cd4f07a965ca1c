using System.Globalization;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// Python semantics for template values. The model: null is None, bool, long (int), double (float), string,
/// List&lt;object?&gt; (list), object?[] (tuple), OrderedDictionary&lt;object, object?&gt; (dict, insertion-ordered),
/// <see cref="JinjaUndefined"/>, <see cref="JinjaNamespace"/>, <see cref="JinjaLoop"/>, <see cref="JinjaCallable"/>.
/// </summary>
internal static class JinjaValues
{
    /// <summary>Dict keys compare as Python does: 1, 1.0 and True are one key.</summary>
    public static IEqualityComparer<object> KeyComparer { get; } = new PythonKeyComparer();

    public static OrderedDictionary<object, object?> NewDict() => new(KeyComparer);

    public static bool IsTrue(object? value) => value switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        object?[] tuple => tuple.Length > 0,
        OrderedDictionary<object, object?> dict => dict.Count > 0,
        JinjaUndefined => false,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        OrderedDictionary<object, object?> => "dict",
        JinjaUndefined => "Undefined",
        JinjaNamespace => "Namespace",
        JinjaLoop => "LoopContext",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    /// <summary>Python's str().</summary>
    public static string ToStr(object? value) => value switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        JinjaUndefined => string.Empty,
        _ => Repr(value),
    };

    /// <summary>Python's repr(), which is how lists, tuples and dicts print.</summary>
    public static string Repr(object? value)
    {
        var builder = new StringBuilder();
        AppendRepr(builder, value);
        return builder.ToString();
    }

    /// <summary>Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        if (d == 0)
        {
            return double.IsNegative(d) ? "-0.0" : "0.0";
        }

        var (negative, digits, pointPosition) = ShortestDigits(d);
        var builder = new StringBuilder();
        if (negative)
        {
            builder.Append('-');
        }

        if (pointPosition <= -4 || pointPosition > 16)
        {
            builder.Append(digits[0]);
            if (digits.Length > 1)
            {
                builder.Append('.').Append(digits, 1, digits.Length - 1);
            }

            var exponent = pointPosition - 1;
            builder.Append('e').Append(exponent < 0 ? '-' : '+').Append(Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (pointPosition <= 0)
        {
            builder.Append("0.").Append('0', -pointPosition).Append(digits);
        }
        else if (pointPosition >= digits.Length)
        {
            builder.Append(digits).Append('0', pointPosition - digits.Length).Append(".0");
        }
        else
        {
            builder.Append(digits, 0, pointPosition).Append('.').Append(digits, pointPosition, digits.Length - pointPosition);
        }

        return builder.ToString();
    }

    public static bool PyEquals(object? a, object? b)
    {
        if (a is bool || a is long || a is double)
        {
            if (b is bool || b is long || b is double)
            {
                if (a is double || b is double)
                {
                    return ToDouble(a) == ToDouble(b);
                }

                return ToLong(a) == ToLong(b);
            }

            return false;
        }

        switch (a)
        {
            case null:
                return b is null;
            case string s:
                return b is string t && string.Equals(s, t, StringComparison.Ordinal);
            case JinjaUndefined:
                return b is JinjaUndefined;
            case List<object?> list:
                return b is List<object?> other && SequenceEquals(list, other);
            case object?[] tuple:
                return b is object?[] otherTuple && SequenceEquals(tuple, otherTuple);
            case OrderedDictionary<object, object?> dict:
                if (b is not OrderedDictionary<object, object?> otherDict || dict.Count != otherDict.Count)
                {
                    return false;
                }

                foreach (var pair in dict)
                {
                    if (!otherDict.TryGetValue(pair.Key, out var v) || !PyEquals(pair.Value, v))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return ReferenceEquals(a, b);
        }
    }

    /// <summary>Python ordering (&lt;, &gt;): numbers with numbers, strings by code point, lists and tuples element-wise.</summary>
    public static int Compare(object? a, object? b, int line)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        }

        if (a is string s && b is string t)
        {
            return string.CompareOrdinal(s, t) switch { < 0 => -1, > 0 => 1, _ => 0 };
        }

        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var x = (IReadOnlyList<object?>)a;
            var y = (IReadOnlyList<object?>)b;
            for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
            {
                if (!PyEquals(x[i], y[i]))
                {
                    return Compare(x[i], y[i], line);
                }
            }

            return x.Count.CompareTo(y.Count);
        }

        if (a is JinjaUndefined u)
        {
            throw new JinjaException(u.Hint, line);
        }

        if (b is JinjaUndefined v)
        {
            throw new JinjaException(v.Hint, line);
        }

        throw new JinjaException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'", line);
    }

    public static double ToDouble(object? value) => value switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => d,
        _ => throw new InvalidOperationException("not a number"),
    };

    public static long ToLong(object? value) => value switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => (long)d,
        _ => throw new InvalidOperationException("not a number"),
    };

    /// <summary>Iterates like Python's iter(): sequences by item, dicts by key, strings by code point; Undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? value, int line) => value switch
    {
        List<object?> list => list,
        object?[] tuple => tuple,
        OrderedDictionary<object, object?> dict => [.. dict.Keys],
        string s => CodePoints(s),
        JinjaUndefined => [],
        JinjaNamespace ns => [.. ns.Attributes.Keys],
        _ => throw new JinjaException($"'{TypeName(value)}' object is not iterable", line),
    };

    /// <summary>The string's code points as one-character strings (Python indexes strings by code point, not UTF-16 unit).</summary>
    public static List<object?> CodePoints(string s)
    {
        var result = new List<object?>(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            result.Add(rune.ToString());
        }

        return result;
    }

    public static bool HasSurrogates(string s)
    {
        foreach (var c in s)
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    public static int Length(object? value, int line) => value switch
    {
        string s => HasSurrogates(s) ? s.EnumerateRunes().Count() : s.Length,
        List<object?> list => list.Count,
        object?[] tuple => tuple.Length,
        OrderedDictionary<object, object?> dict => dict.Count,
        JinjaUndefined => 0,
        _ => throw new JinjaException($"object of type '{TypeName(value)}' has no len()", line),
    };

    /// <summary>Python's str.isspace for one character (str.strip() and split() use it).</summary>
    public static bool IsPythonSpace(char c) => c is (>= '\t' and <= '\r') or (>= '\x1c' and <= '\x1f') || char.IsWhiteSpace(c);

    public static string PythonStrip(string s, string? chars, bool left, bool right)
    {
        var start = 0;
        var end = s.Length;
        if (left)
        {
            while (start < end && (chars is null ? IsPythonSpace(s[start]) : chars.Contains(s[start], StringComparison.Ordinal)))
            {
                start++;
            }
        }

        if (right)
        {
            while (end > start && (chars is null ? IsPythonSpace(s[end - 1]) : chars.Contains(s[end - 1], StringComparison.Ordinal)))
            {
                end--;
            }
        }

        return s[start..end];
    }

    private static bool SequenceEquals(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!PyEquals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static void AppendRepr(StringBuilder builder, object? value)
    {
        switch (value)
        {
            case string s:
                AppendStringRepr(builder, s);
                break;
            case List<object?> list:
                builder.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendRepr(builder, list[i]);
                }

                builder.Append(']');
                break;
            case object?[] tuple:
                builder.Append('(');
                for (var i = 0; i < tuple.Length; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendRepr(builder, tuple[i]);
                }

                builder.Append(tuple.Length == 1 ? ",)" : ")");
                break;
            case OrderedDictionary<object, object?> dict:
                builder.Append('{');
                var first = true;
                foreach (var pair in dict)
                {
                    if (!first)
                    {
                        builder.Append(", ");
                    }

                    first = false;
                    AppendRepr(builder, pair.Key);
                    builder.Append(": ");
                    AppendRepr(builder, pair.Value);
                }

                builder.Append('}');
                break;
            case JinjaUndefined:
                builder.Append("Undefined");
                break;
            case JinjaNamespace ns:
                builder.Append("<Namespace ");
                var dictView = NewDict();
                foreach (var pair in ns.Attributes)
                {
                    dictView[pair.Key] = pair.Value;
                }

                AppendRepr(builder, dictView);
                builder.Append('>');
                break;
            default:
                builder.Append(ToStr(value));
                break;
        }
    }

    private static void AppendStringRepr(StringBuilder builder, string s)
    {
        var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        builder.Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\':
                    builder.Append("\\\\");
                    break;
                case '\n':
                    builder.Append("\\n");
                    break;
                case '\r':
                    builder.Append("\\r");
                    break;
                case '\t':
                    builder.Append("\\t");
                    break;
                default:
                    if (c == quote)
                    {
                        builder.Append('\\').Append(c);
                    }
                    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad)
                    {
                        builder.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append(quote);
    }

    private static (bool Negative, string Digits, int PointPosition) ShortestDigits(double d)
    {
        // "R" gives the shortest round-trip digits, e.g. "1.5E-05" or "123.25"; re-express as digits x 10^point.
        var text = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        var exponent = 0;
        var e = text.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot >= 0 ? text[..dot] : text;
        var fracPart = dot >= 0 ? text[(dot + 1)..] : string.Empty;
        var digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        var point = intPart.Length - leadingZeros + exponent;
        digits = digits.TrimEnd('0');
        return (d < 0, digits.Length == 0 ? "0" : digits, point);
    }

    private sealed class PythonKeyComparer : IEqualityComparer<object>
    {
        public new bool Equals(object? x, object? y) => PyEquals(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            bool b => (b ? 1L : 0L).GetHashCode(),
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
            string s => StringComparer.Ordinal.GetHashCode(s),
            _ => obj.GetHashCode(),
        };
    }
}

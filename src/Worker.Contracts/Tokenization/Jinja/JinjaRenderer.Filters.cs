using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Inference.Worker.Tokenization.Jinja;

internal sealed partial class JinjaRenderer
{
    /// <summary>Filter names the parser accepts; jinja2 refuses an unknown filter when it compiles the template.</summary>
    public static readonly HashSet<string> FilterNames = new(StringComparer.Ordinal)
    {
        "abs", "attr", "batch", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "int", "indent",
        "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
        "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    };

    private object? EvalFilter(JinjaExpr.Filter filter, JinjaScope scope, object? blockInput)
    {
        var input = filter.Target switch
        {
            null => blockInput,
            JinjaExpr.Filter inner => EvalFilter(inner, scope, blockInput),
            var target => Eval(target, scope),
        };
        return ApplyFilter(filter.FilterName, input, EvalArguments(filter.Arguments, scope, filter.Line));
    }

    private object? ApplyFilter(string name, object? value, JinjaCall call)
    {
        var line = call.Line;
        switch (name)
        {
            case "trim":
                return JinjaValues.PythonStrip(JinjaValues.ToStr(value), call.Arg(0, "chars") as string, left: true, right: true);
            case "length" or "count":
                return (long)JinjaValues.Length(value, line);
            case "items":
                return value switch
                {
                    OrderedDictionary<object, object?> dict => dict.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList(),
                    JinjaUndefined => new List<object?>(),
                    _ => throw new JinjaException($"can only get item pairs from a mapping, not '{JinjaValues.TypeName(value)}'", line),
                };
            case "first":
                {
                    var items = JinjaValues.Iterate(value, line);
                    return items.Count > 0 ? items[0] : new JinjaUndefined("No first item, sequence was empty.");
                }

            case "last":
                {
                    var items = JinjaValues.Iterate(value, line);
                    return items.Count > 0 ? items[^1] : new JinjaUndefined("No last item, sequence was empty.");
                }

            case "join":
                {
                    var separator = JinjaValues.ToStr(call.Arg(0, "d", string.Empty));
                    var attribute = call.Arg(1, "attribute");
                    var parts = JinjaValues.Iterate(value, line).Select(i => JinjaValues.ToStr(attribute is null ? i : GetPath(i, attribute, line)));
                    return CheckLength(string.Join(separator, parts), line);
                }

            case "upper":
                return JinjaValues.ToStr(value).ToUpperInvariant();
            case "lower":
                return JinjaValues.ToStr(value).ToLowerInvariant();
            case "capitalize":
                return Capitalize(JinjaValues.ToStr(value));
            case "title":
                return TitleFilter(JinjaValues.ToStr(value));
            case "replace":
                return Replace(
                    JinjaValues.ToStr(value), JinjaValues.ToStr(call.Arg(0, "old")), JinjaValues.ToStr(call.Arg(1, "new")), call.Arg(2, "count"), line);
            case "default" or "d":
                {
                    var useDefault = value is JinjaUndefined || (JinjaValues.IsTrue(call.Arg(1, "boolean", false)) && !JinjaValues.IsTrue(value));
                    return useDefault ? call.Arg(0, "default_value", string.Empty) : value;
                }

            case "list":
                return new List<object?>(JinjaValues.Iterate(value, line));
            case "string":
                return JinjaValues.ToStr(value);
            case "int":
                return ToInt(value, call);
            case "float":
                return ToFloat(value, call);
            case "abs":
                return value switch
                {
                    long l => l == long.MinValue ? throw new JinjaException("integer overflow", line) : (object)Math.Abs(l),
                    bool b => b ? 1L : 0L,
                    double d => Math.Abs(d),
                    _ => throw new JinjaException($"bad operand type for abs(): '{JinjaValues.TypeName(value)}'", line),
                };
            case "round":
                return Round(value, call);
            case "map":
                return Map(value, call);
            case "select" or "reject":
                return Select(value, call, attribute: false, keep: name == "select");
            case "selectattr" or "rejectattr":
                return Select(value, call, attribute: true, keep: name == "selectattr");
            case "unique":
                return Unique(value, call);
            case "sort":
                return Sort(value, call);
            case "dictsort":
                return DictSort(value, call);
            case "reverse":
                return value is string s ? string.Concat(JinjaValues.CodePoints(s).Cast<string>().Reverse()) : JinjaValues.Iterate(value, line).Reverse().ToList();
            case "batch":
                return Batch(value, call);
            case "indent":
                return Indent(JinjaValues.ToStr(value), call);
            case "safe":
                return value is string ? value : JinjaValues.ToStr(value);
            case "escape" or "e":
                return Escape(JinjaValues.ToStr(value));
            case "wordcount":
                return (long)WordRegex().Count(JinjaValues.ToStr(value));
            case "tojson":
                return CheckLength(JinjaJson.Dumps(value, call), line);
            case "sum":
                {
                    var attribute = call.Arg(0, "attribute");
                    object? total = call.Arg(1, "start", 0L);
                    foreach (var item in JinjaValues.Iterate(value, line))
                    {
                        total = Arithmetic("+", total, attribute is null ? item : GetPath(item, attribute, line), line);
                    }

                    return total;
                }

            case "min" or "max":
                {
                    var items = JinjaValues.Iterate(value, line);
                    if (items.Count == 0)
                    {
                        return new JinjaUndefined($"No aggregated item, sequence was empty.");
                    }

                    var attribute = call.Arg(1, "attribute");
                    var caseSensitive = JinjaValues.IsTrue(call.Arg(0, "case_sensitive", false));
                    var best = items[0];
                    foreach (var item in items.Skip(1))
                    {
                        var c = JinjaValues.Compare(SortKey(item, attribute, caseSensitive, line), SortKey(best, attribute, caseSensitive, line), line);
                        if (name == "min" ? c < 0 : c > 0)
                        {
                            best = item;
                        }
                    }

                    return best;
                }

            case "attr":
                return GetAttribute(value, ExpectString(call.Arg(0, "name"), "attr", line), line);
            default:
                throw new JinjaException($"no filter named '{name}'", line);
        }
    }

    private static object? ToInt(object? value, JinjaCall call)
    {
        var fallback = call.Arg(0, "default", 0L);
        switch (value)
        {
            case long:
                return value;
            case bool b:
                return b ? 1L : 0L;
            case double d:
                return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)d : fallback;
            case string s:
                {
                    var text = s.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
                    if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
                    {
                        return l;
                    }

                    return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? (long)d : fallback;
                }

            default:
                return fallback;
        }
    }

    private static object? ToFloat(object? value, JinjaCall call)
    {
        var fallback = call.Arg(0, "default", 0.0);
        return value switch
        {
            double => value,
            long or bool => JinjaValues.ToDouble(value),
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => fallback,
        };
    }

    private static object? Round(object? value, JinjaCall call)
    {
        var precision = (int)JinjaValues.ToLong(call.Arg(0, "precision", 0L));
        var method = JinjaValues.ToStr(call.Arg(1, "method", "common"));
        if (!JinjaValues.IsNumber(value))
        {
            throw new JinjaException($"round expects a number, got '{JinjaValues.TypeName(value)}'", call.Line);
        }

        var d = JinjaValues.ToDouble(value);
        var factor = Math.Pow(10, precision);
        return method switch
        {
            "common" => value is double ? Math.Round(d, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven) : value,
            "floor" => Math.Floor(d * factor) / factor,
            "ceil" => Math.Ceiling(d * factor) / factor,
            _ => throw new JinjaException("method must be common, ceil or floor", call.Line),
        };
    }

    // jinja2's make_attrgetter: "a.b.0" walks attributes/items, integer parts as indices.
    private object? GetPath(object? item, object? path, int line)
    {
        if (path is long index)
        {
            return GetItem(item, index, line);
        }

        var current = item;
        foreach (var part in JinjaValues.ToStr(path).Split('.'))
        {
            current = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? GetItem(current, i, line) : GetItem(current, part, line);
        }

        return current;
    }

    private List<object?> Map(object? value, JinjaCall call)
    {
        var items = JinjaValues.Iterate(value, call.Line);
        var result = new List<object?>(items.Count);
        if (call.Positional.Count == 0)
        {
            var attribute = call.Arg(99, "attribute") ?? throw new JinjaException("map needs a filter name or attribute=", call.Line);
            var hasDefault = call.Has(99, "default");
            foreach (var item in items)
            {
                var v = GetPath(item, attribute, call.Line);
                result.Add(v is JinjaUndefined && hasDefault ? call.Arg(99, "default") : v);
            }

            return result;
        }

        var filter = ExpectString(call.Positional[0], "map", call.Line);
        var rest = new JinjaCall(call.Positional.Skip(1).ToList(), call.Named, call.Line);
        foreach (var item in items)
        {
            result.Add(ApplyFilter(filter, item, rest));
        }

        return result;
    }

    private List<object?> Select(object? value, JinjaCall call, bool attribute, bool keep)
    {
        var offset = attribute ? 1 : 0;
        var path = attribute ? call.Arg(0, "attribute") : null;
        var test = call.Positional.Count > offset ? ExpectString(call.Positional[offset], "select", call.Line) : null;
        var rest = new JinjaCall(call.Positional.Skip(offset + 1).ToList(), [], call.Line);
        var result = new List<object?>();
        foreach (var item in JinjaValues.Iterate(value, call.Line))
        {
            var subject = attribute ? GetPath(item, path, call.Line) : item;
            var passed = test is null ? JinjaValues.IsTrue(subject) : RunTest(test, subject, rest);
            if (passed == keep)
            {
                result.Add(item);
            }
        }

        return result;
    }

    private object? SortKey(object? item, object? attribute, bool caseSensitive, int line)
    {
        var key = attribute is null ? item : GetPath(item, attribute, line);
        return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
    }

    private List<object?> Unique(object? value, JinjaCall call)
    {
        var caseSensitive = JinjaValues.IsTrue(call.Arg(0, "case_sensitive", false));
        var attribute = call.Arg(1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in JinjaValues.Iterate(value, call.Line))
        {
            var key = SortKey(item, attribute, caseSensitive, call.Line);
            if (!seen.Any(k => JinjaValues.PyEquals(k, key)))
            {
                seen.Add(key);
                result.Add(item);
            }
        }

        return result;
    }

    private List<object?> Sort(object? value, JinjaCall call)
    {
        var reverse = JinjaValues.IsTrue(call.Arg(0, "reverse", false));
        var caseSensitive = JinjaValues.IsTrue(call.Arg(1, "case_sensitive", false));
        var attribute = call.Arg(2, "attribute");
        var keyed = JinjaValues.Iterate(value, call.Line).Select(i => (Key: SortKey(i, attribute, caseSensitive, call.Line), Item: i)).ToList();
        var comparer = Comparer<object?>.Create((a, b) => JinjaValues.Compare(a, b, call.Line));

        // OrderBy is stable, as Python's sorted is.
        var sorted = reverse ? keyed.OrderByDescending(p => p.Key, comparer) : keyed.OrderBy(p => p.Key, comparer);
        return sorted.Select(p => p.Item).ToList();
    }

    private List<object?> DictSort(object? value, JinjaCall call)
    {
        if (value is not OrderedDictionary<object, object?> dict)
        {
            throw new JinjaException("dictsort expects a mapping", call.Line);
        }

        var caseSensitive = JinjaValues.IsTrue(call.Arg(0, "case_sensitive", false));
        var byValue = JinjaValues.ToStr(call.Arg(1, "by", "key")) == "value";
        var reverse = JinjaValues.IsTrue(call.Arg(2, "reverse", false));
        var comparer = Comparer<object?>.Create((a, b) => JinjaValues.Compare(a, b, call.Line));
        var pairs = dict.Select(p => (Key: SortKey(byValue ? p.Value : p.Key, null, caseSensitive, call.Line), Item: (object?)new object?[] { p.Key, p.Value }));
        var sorted = reverse ? pairs.OrderByDescending(p => p.Key, comparer) : pairs.OrderBy(p => p.Key, comparer);
        return sorted.Select(p => p.Item).ToList();
    }

    private static List<object?> Batch(object? value, JinjaCall call)
    {
        var size = JinjaValues.ToLong(call.Arg(0, "linecount", 1L));
        if (size <= 0)
        {
            throw new JinjaException("batch size must be positive", call.Line);
        }

        var fill = call.Has(1, "fill_with") ? call.Arg(1, "fill_with") : null;
        var result = new List<object?>();
        List<object?>? current = null;
        foreach (var item in JinjaValues.Iterate(value, call.Line))
        {
            current ??= [];
            current.Add(item);
            if (current.Count == size)
            {
                result.Add(current);
                current = null;
            }
        }

        if (current is not null)
        {
            while (fill is not null && current.Count < size)
            {
                current.Add(fill);
            }

            result.Add(current);
        }

        return result;
    }

    // jinja2 3.1's do_indent, including its "s += newline" quirk before splitlines.
    private string Indent(string s, JinjaCall call)
    {
        var width = call.Arg(0, "width", 4L);
        var indentation = width is string text ? text : new string(' ', (int)Math.Clamp(JinjaValues.ToLong(width), 0, 1000));
        var first = JinjaValues.IsTrue(call.Arg(1, "first", false));
        var blank = JinjaValues.IsTrue(call.Arg(2, "blank", false));
        var lines = SplitLines(s + "\n");
        var builder = new StringBuilder();
        if (blank)
        {
            builder.AppendJoin("\n" + indentation, lines);
        }
        else
        {
            builder.Append(lines.Count > 0 ? lines[0] : string.Empty);
            for (var i = 1; i < lines.Count; i++)
            {
                builder.Append('\n');
                if (lines[i].Length > 0)
                {
                    builder.Append(indentation);
                }

                builder.Append(lines[i]);
            }
        }

        if (first)
        {
            builder.Insert(0, indentation);
        }

        return CheckLength(builder.ToString(), call.Line);
    }

    // jinja2's do_title: words start after whitespace, '-', or an opening bracket.
    private static string TitleFilter(string s)
    {
        var builder = new StringBuilder(s.Length);
        var atWordStart = true;
        foreach (var c in s)
        {
            builder.Append(atWordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            atWordStart = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
        }

        return builder.ToString();
    }

    private static string Escape(string s) => s
        .Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordRegex();
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// JSON in and out of the template value model. <see cref="Dumps"/> is transformers' tojson filter, which is
/// Python's json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys):
/// ", " and ": " separators ("," with an indent), no HTML escaping, floats as Python writes them.
/// </summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, JinjaCall call)
    {
        var ensureAscii = JinjaValues.IsTrue(call.Arg(0, "ensure_ascii", false));
        var indentArg = call.Arg(1, "indent");
        var separators = call.Arg(2, "separators");
        var sortKeys = JinjaValues.IsTrue(call.Arg(3, "sort_keys", false));
        string? indent = indentArg switch
        {
            null => null,
            string s => s,
            long or bool => new string(' ', (int)Math.Clamp(JinjaValues.ToLong(indentArg), 0, 1000)),
            _ => throw new JinjaException("tojson indent must be an integer or a string", call.Line),
        };
        string itemSeparator = indent is null ? ", " : ",";
        string keySeparator = ": ";
        if (separators is not null)
        {
            var parts = JinjaValues.Iterate(separators, call.Line);
            if (parts.Count != 2 || parts[0] is not string item || parts[1] is not string key)
            {
                throw new JinjaException("tojson separators must be a pair of strings", call.Line);
            }

            (itemSeparator, keySeparator) = (item, key);
        }

        var builder = new StringBuilder();
        Write(builder, value, new Options(indent, itemSeparator, keySeparator, sortKeys, ensureAscii, call.Line), 0);
        return builder.ToString();
    }

    /// <summary>Python's json.loads into the value model: objects keep their key order; integers stay integers.</summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => FromObject(element),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var l) && IsIntegerLiteral(element.GetRawText()) ? (object)l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static bool IsIntegerLiteral(string raw) => raw.AsSpan().IndexOfAny(".eE") < 0;

    private static OrderedDictionary<object, object?> FromObject(JsonElement element)
    {
        var dict = JinjaValues.NewDict();
        foreach (var property in element.EnumerateObject())
        {
            dict[property.Name] = FromJson(property.Value);
        }

        return dict;
    }

    private static void Write(StringBuilder builder, object? value, Options options, int level)
    {
        switch (value)
        {
            case null:
                builder.Append("null");
                break;
            case bool b:
                builder.Append(b ? "true" : "false");
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                builder.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : JinjaValues.FormatFloat(d));
                break;
            case string s:
                WriteString(builder, s, options.EnsureAscii);
                break;
            case List<object?> or object?[]:
                {
                    var items = (IReadOnlyList<object?>)value;
                    if (items.Count == 0)
                    {
                        builder.Append("[]");
                        break;
                    }

                    builder.Append('[');
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (i > 0)
                        {
                            builder.Append(options.ItemSeparator);
                        }

                        NewLine(builder, options, level + 1);
                        Write(builder, items[i], options, level + 1);
                    }

                    NewLine(builder, options, level);
                    builder.Append(']');
                    break;
                }

            case OrderedDictionary<object, object?> dict:
                {
                    if (dict.Count == 0)
                    {
                        builder.Append("{}");
                        break;
                    }

                    IEnumerable<KeyValuePair<object, object?>> pairs = dict;
                    if (options.SortKeys)
                    {
                        pairs = dict.OrderBy(p => p.Key as string ?? throw new JinjaException("sort_keys needs string keys", options.Line), StringComparer.Ordinal);
                    }

                    builder.Append('{');
                    var first = true;
                    foreach (var (key, item) in pairs)
                    {
                        if (!first)
                        {
                            builder.Append(options.ItemSeparator);
                        }

                        first = false;
                        NewLine(builder, options, level + 1);
                        var keyText = key switch
                        {
                            string s => s,
                            bool b => b ? "true" : "false",
                            long l => l.ToString(CultureInfo.InvariantCulture),
                            double d => JinjaValues.FormatFloat(d),
                            _ => JinjaValues.ToStr(key),
                        };
                        WriteString(builder, keyText, options.EnsureAscii);
                        builder.Append(options.KeySeparator);
                        Write(builder, item, options, level + 1);
                    }

                    NewLine(builder, options, level);
                    builder.Append('}');
                    break;
                }

            default:
                throw new JinjaException($"Object of type {JinjaValues.TypeName(value)} is not JSON serializable", options.Line);
        }
    }

    private static void NewLine(StringBuilder builder, Options options, int level)
    {
        if (options.Indent is null)
        {
            return;
        }

        builder.Append('\n');
        for (var i = 0; i < level; i++)
        {
            builder.Append(options.Indent);
        }
    }

    private static void WriteString(StringBuilder builder, string s, bool ensureAscii)
    {
        builder.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7e))
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }

    private sealed record Options(string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys, bool EnsureAscii, int Line);
}

using System.Globalization;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

internal sealed partial class JinjaRenderer
{
    private static readonly HashSet<string> UnsafeListMethods = new(StringComparer.Ordinal)
    {
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
    };

    private static readonly HashSet<string> UnsafeDictMethods = new(StringComparer.Ordinal)
    {
        "pop", "popitem", "update", "setdefault", "clear",
    };

    private IEnumerable<KeyValuePair<string, JinjaCallable>> Globals()
    {
        yield return new("raise_exception", new JinjaCallable("raise_exception", call =>
            throw new JinjaRaisedException(JinjaValues.ToStr(call.Arg(0, "message", string.Empty)), call.Line)));
        yield return new("strftime_now", new JinjaCallable("strftime_now", call =>
            JinjaStrftime.Format(_timeProvider.GetUtcNow(), ExpectString(call.Arg(0, "format"), "strftime_now", call.Line))));
        yield return new("range", new JinjaCallable("range", Range));
        yield return new("namespace", new JinjaCallable("namespace", call =>
        {
            var ns = new JinjaNamespace();
            foreach (var item in call.Positional)
            {
                if (item is not OrderedDictionary<object, object?> dict)
                {
                    throw new JinjaException("namespace() takes keyword arguments or a dict", call.Line);
                }

                foreach (var (key, value) in dict)
                {
                    ns.Attributes[JinjaValues.ToStr(key)] = value;
                }
            }

            foreach (var (key, value) in call.Named)
            {
                ns.Attributes[key] = value;
            }

            return ns;
        }));
        yield return new("dict", new JinjaCallable("dict", call =>
        {
            var dict = JinjaValues.NewDict();
            foreach (var item in call.Positional)
            {
                if (item is OrderedDictionary<object, object?> source)
                {
                    foreach (var (key, value) in source)
                    {
                        dict[key] = value;
                    }
                }
                else
                {
                    foreach (var pair in JinjaValues.Iterate(item, call.Line))
                    {
                        var parts = JinjaValues.Iterate(pair, call.Line);
                        if (parts.Count != 2)
                        {
                            throw new JinjaException("dictionary update sequence element has wrong length; 2 is required", call.Line);
                        }

                        dict[HashableKey(parts[0], call.Line)] = parts[1];
                    }
                }
            }

            foreach (var (key, value) in call.Named)
            {
                dict[key] = value;
            }

            return dict;
        }));
    }

    private List<object?> Range(JinjaCall call)
    {
        var args = call.Positional;
        if (args.Count is 0 or > 3 || args.Any(a => a is not (long or bool)))
        {
            throw new JinjaException("range() takes 1 to 3 integer arguments", call.Line);
        }

        long start = 0, step = 1, stop;
        if (args.Count == 1)
        {
            stop = JinjaValues.ToLong(args[0]);
        }
        else
        {
            start = JinjaValues.ToLong(args[0]);
            stop = JinjaValues.ToLong(args[1]);
            step = args.Count == 3 ? JinjaValues.ToLong(args[2]) : 1;
        }

        if (step == 0)
        {
            throw new JinjaException("range() arg 3 must not be zero", call.Line);
        }

        var count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > _limits.MaxRange)
        {
            throw new JinjaException($"range too big; the sandbox allows {_limits.MaxRange} items", call.Line);
        }

        var result = new List<object?>((int)count);
        for (var i = 0L; i < count; i++)
        {
            result.Add(start + (i * step));
        }

        return result;
    }

    private static string ExpectString(object? value, string what, int line) =>
        value as string ?? throw new JinjaException($"{what} expects a string, got '{JinjaValues.TypeName(value)}'", line);

    private static JinjaUndefined Unsafe(string type, string name) => new($"access to attribute '{name}' of '{type}' object is unsafe.");

    private static object? DictMethod(OrderedDictionary<object, object?> dict, string name)
    {
        if (UnsafeDictMethods.Contains(name))
        {
            return Unsafe("dict", name);
        }

        return name switch
        {
            "items" => new JinjaCallable("dict.items", _ => dict.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList()),
            "keys" => new JinjaCallable("dict.keys", _ => dict.Keys.Cast<object?>().ToList()),
            "values" => new JinjaCallable("dict.values", _ => dict.Values.ToList()),
            "get" => new JinjaCallable("dict.get", call =>
            {
                var key = call.Arg(0, "key");
                return key is string or long or double or bool && dict.TryGetValue(key, out var value) ? value : call.Arg(1, "default");
            }),
            "copy" => new JinjaCallable("dict.copy", _ =>
            {
                var copy = JinjaValues.NewDict();
                foreach (var (key, value) in dict)
                {
                    copy[key] = value;
                }

                return copy;
            }),
            _ => null,
        };
    }

    private static object? SequenceMethod(IReadOnlyList<object?> items, bool tuple, string name)
    {
        if (!tuple && UnsafeListMethods.Contains(name))
        {
            return Unsafe("list", name);
        }

        return name switch
        {
            "index" => new JinjaCallable("index", call =>
            {
                var item = call.Arg(0, "value");
                for (var i = 0; i < items.Count; i++)
                {
                    if (JinjaValues.PyEquals(items[i], item))
                    {
                        return (long)i;
                    }
                }

                throw new JinjaException($"{JinjaValues.Repr(item)} is not in list", call.Line);
            }),
            "count" => new JinjaCallable("count", call => (long)items.Count(i => JinjaValues.PyEquals(i, call.Arg(0, "value")))),
            _ => null,
        };
    }

    private JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => new JinjaCallable("str.strip", call => JinjaValues.PythonStrip(s, OptionalChars(call), left: true, right: true)),
        "lstrip" => new JinjaCallable("str.lstrip", call => JinjaValues.PythonStrip(s, OptionalChars(call), left: true, right: false)),
        "rstrip" => new JinjaCallable("str.rstrip", call => JinjaValues.PythonStrip(s, OptionalChars(call), left: false, right: true)),
        "split" => new JinjaCallable("str.split", call => Split(s, call.Arg(0, "sep"), call.Arg(1, "maxsplit", -1L), call.Line)),
        "startswith" => new JinjaCallable("str.startswith", call => Affix(s, call, start: true)),
        "endswith" => new JinjaCallable("str.endswith", call => Affix(s, call, start: false)),
        "upper" => new JinjaCallable("str.upper", _ => s.ToUpperInvariant()),
        "lower" => new JinjaCallable("str.lower", _ => s.ToLowerInvariant()),
        "title" => new JinjaCallable("str.title", _ => PythonTitle(s)),
        "capitalize" => new JinjaCallable("str.capitalize", _ => Capitalize(s)),
        "replace" => new JinjaCallable("str.replace", call =>
            Replace(s, ExpectString(call.Arg(0, "old"), "replace", call.Line), ExpectString(call.Arg(1, "new"), "replace", call.Line), call.Arg(2, "count", -1L), call.Line)),
        "join" => new JinjaCallable("str.join", call =>
            CheckLength(string.Join(s, JinjaValues.Iterate(call.Arg(0, "iterable"), call.Line).Select(i => ExpectString(i, "join", call.Line))), call.Line)),
        "find" => new JinjaCallable("str.find", call => (long)s.IndexOf(ExpectString(call.Arg(0, "sub"), "find", call.Line), StringComparison.Ordinal)),
        "count" => new JinjaCallable("str.count", call => (long)CountOccurrences(s, ExpectString(call.Arg(0, "sub"), "count", call.Line))),
        "splitlines" => new JinjaCallable("str.splitlines", _ => SplitLines(s).Cast<object?>().ToList()),
        "isdigit" => new JinjaCallable("str.isdigit", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => new JinjaCallable("str.isspace", _ => s.Length > 0 && s.All(JinjaValues.IsPythonSpace)),
        "format" => new JinjaCallable("str.format", call => CheckLength(Format(s, call), call.Line)),
        _ => null,
    };

    private static string? OptionalChars(JinjaCall call) => call.Arg(0, "chars") switch
    {
        null => null,
        string chars => chars,
        var other => throw new JinjaException($"strip arg must be None or str, not {JinjaValues.TypeName(other)}", call.Line),
    };

    private static bool Affix(string s, JinjaCall call, bool start)
    {
        var affix = call.Arg(0, "prefix");
        IEnumerable<object?> candidates = affix is object?[] tuple ? tuple : [affix];
        foreach (var candidate in candidates)
        {
            var text = ExpectString(candidate, start ? "startswith" : "endswith", call.Line);
            if (start ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static List<object?> Split(string s, object? separator, object? maxSplitValue, int line)
    {
        var maxSplit = maxSplitValue is long or bool ? JinjaValues.ToLong(maxSplitValue) : -1;
        var result = new List<object?>();
        if (separator is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && JinjaValues.IsPythonSpace(s[i]))
                {
                    i++;
                }

                if (i >= s.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && result.Count == maxSplit)
                {
                    result.Add(JinjaValues.PythonStrip(s[i..], null, left: false, right: true));
                    break;
                }

                var start = i;
                while (i < s.Length && !JinjaValues.IsPythonSpace(s[i]))
                {
                    i++;
                }

                result.Add(s[start..i]);
            }

            return result;
        }

        var sep = ExpectString(separator, "split", line);
        if (sep.Length == 0)
        {
            throw new JinjaException("empty separator", line);
        }

        var from = 0;
        while (maxSplit < 0 || result.Count < maxSplit)
        {
            var at = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            result.Add(s[from..at]);
            from = at + sep.Length;
        }

        result.Add(s[from..]);
        return result;
    }

    private string Replace(string s, string old, string replacement, object? countValue, int line)
    {
        var count = countValue is long or bool ? JinjaValues.ToLong(countValue) : -1;
        if (count < 0)
        {
            if (old.Length == 0)
            {
                // Python inserts the replacement between every character and at both ends.
                var builder = new StringBuilder(replacement);
                foreach (var point in JinjaValues.CodePoints(s))
                {
                    builder.Append((string)point!).Append(replacement);
                }

                return CheckLength(builder.ToString(), line);
            }

            return CheckLength(s.Replace(old, replacement, StringComparison.Ordinal), line);
        }

        var result = new StringBuilder();
        var from = 0;
        for (var done = 0L; done < count; done++)
        {
            var at = old.Length == 0 ? (from <= s.Length ? from : -1) : s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            result.Append(s, from, at - from).Append(replacement);
            if (old.Length == 0)
            {
                if (at < s.Length)
                {
                    result.Append(s[at]);
                }

                from = at + 1;
            }
            else
            {
                from = at + old.Length;
            }
        }

        if (from < s.Length)
        {
            result.Append(s, from, s.Length - from);
        }

        return CheckLength(result.ToString(), line);
    }

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.Length + 1;
        }

        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    // Python's str.splitlines: \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029 end lines; no trailing empty line.
    internal static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
                {
                    i++;
                }

                start = i + 1;
            }
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }

    internal static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    // Python's str.title: a cased letter after a non-letter starts a word.
    private static string PythonTitle(string s)
    {
        var builder = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            builder.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }

        return builder.ToString();
    }

    // str.format with {} / {0} / {name} fields and no format specs, which is what templates use.
    private static string Format(string s, JinjaCall call)
    {
        var builder = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{')
            {
                builder.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < s.Length && s[i + 1] == '}')
            {
                builder.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var end = s.IndexOf('}', i);
                if (end < 0)
                {
                    throw new JinjaException("single '{' encountered in format string", call.Line);
                }

                var field = s[(i + 1)..end];
                if (field.Contains(':', StringComparison.Ordinal) || field.Contains('!', StringComparison.Ordinal))
                {
                    throw new JinjaException("format specs in str.format are not supported", call.Line);
                }

                object? value;
                if (field.Length == 0)
                {
                    value = auto < call.Positional.Count ? call.Positional[auto++] : throw new JinjaException("replacement index out of range", call.Line);
                }
                else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    value = index < call.Positional.Count ? call.Positional[index] : throw new JinjaException("replacement index out of range", call.Line);
                }
                else
                {
                    var named = call.Named.FindIndex(p => p.Key == field);
                    value = named >= 0 ? call.Named[named].Value : throw new JinjaException($"KeyError: '{field}'", call.Line);
                }

                builder.Append(JinjaValues.ToStr(value));
                i = end;
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}

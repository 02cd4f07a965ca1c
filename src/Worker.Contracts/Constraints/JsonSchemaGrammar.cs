using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Inference.Worker.Constraints;

/// <summary>
/// Translates a JSON Schema into a GBNF grammar whose every match is a JSON text that validates against it.
/// Supported: type (one or a list), properties (emitted in declaration order), required, additionalProperties
/// (false or absent: only the declared properties; true or a schema: extra ones after them), enum, const,
/// anyOf/oneOf (oneOf's exclusivity is not enforced), allOf with one schema, $ref to #, #/$defs/... and
/// #/definitions/... (recursion allowed), items, prefixItems, minItems, maxItems, minLength, maxLength, pattern,
/// format (date, time, date-time, uuid), integer bounds (minimum, maximum, exclusive forms) and number bounds
/// (minimum and maximum with integer values). Annotations are ignored; any other keyword is refused with a
/// <see cref="GrammarException"/> naming it and where it is, never silently dropped.
/// </summary>
public sealed class JsonSchemaGrammar
{
    /// <summary>The longest string length and array size a schema may require or allow.</summary>
    public const int MaxLengthBound = 10_000;

    // Integers are emitted with at most 16 digits, the most a double carries exactly.
    private const long MaxMagnitude = 9_999_999_999_999_999;

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "examples", "default", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
    };

    private static readonly Dictionary<string, string[]> TypeKeywords = new(StringComparer.Ordinal)
    {
        ["string"] = ["minLength", "maxLength", "pattern", "format"],
        ["integer"] = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"],
        ["number"] = ["minimum", "maximum"],
        ["object"] = ["properties", "required", "additionalProperties"],
        ["array"] = ["items", "prefixItems", "minItems", "maxItems"],
        ["boolean"] = [],
        ["null"] = [],
    };

    private const string Common = """
        ws ::= ("" | " " | "\n" [ \t]{0,20})
        char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
        string ::= "\"" char* "\"" ws
        number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws
        integer ::= "-"? ("0" | [1-9] [0-9]{0,15}) ws
        boolean ::= ("true" | "false") ws
        null ::= "null" ws
        value ::= object | array | string | number | boolean | null
        object ::= "{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}" ws
        array ::= "[" ws (value ("," ws value)*)? "]" ws
        date ::= year "-" month-day | leap-year "-02-29"
        year ::= [1-9] [0-9]{3} | "0" ([1-9] [0-9]{2} | "0" ([1-9] [0-9] | "0" [1-9]))
        leap-year ::= [0-9]{2} leap-tail | leap-tail "00"
        leap-tail ::= [02468] [48] | [13579] [26] | [2468] "0"
        month-day ::= ("01" | "03" | "05" | "07" | "08" | "10" | "12") "-" (day28 | "29" | "30" | "31") | ("04" | "06" | "09" | "11") "-" (day28 | "29" | "30") | "02-" day28
        day28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
        time ::= ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])
        uuid ::= [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}

        """;

    // Output as a model would write it: non-ASCII characters as themselves, quotes as \".
    private static readonly JsonWriterOptions RelaxedWriter = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonSerializerOptions RelaxedOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement _root;
    private readonly StringBuilder _rules = new();
    private readonly Dictionary<string, string> _refs = new(StringComparer.Ordinal);
    private int _count;

    private JsonSchemaGrammar(JsonElement root)
    {
        _root = root;
    }

    /// <summary>The GBNF grammar of <paramref name="schema"/>; throws <see cref="GrammarException"/> naming the keyword.</summary>
    public static string ToGbnf(JsonElement schema)
    {
        var converter = new JsonSchemaGrammar(schema);
        string root = converter.Visit(schema, "schema");
        return "root ::= " + root + "\n" + Common + converter._rules;
    }

    /// <summary>The GBNF grammar of any JSON object (response_format json_object).</summary>
    public static string AnyObject() => "root ::= object\n" + Common;

    private static GrammarException Refuse(string path, string message) => new($"{path}: {message}");

    private string Define(string body)
    {
        string name = "s" + (++_count).ToString(CultureInfo.InvariantCulture);
        _rules.Append(name).Append(" ::= ").Append(body).Append('\n');
        return name;
    }

    private string Visit(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return "value";
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw Refuse(path, schema.ValueKind == JsonValueKind.False ? "the schema false matches nothing" : "a schema must be an object or a boolean");
        }

        if (schema.TryGetProperty("$ref", out JsonElement reference))
        {
            Only(schema, path, "$ref");
            return Ref(reference, path);
        }

        if (schema.TryGetProperty("const", out JsonElement constant))
        {
            Only(schema, path, "const", "type");
            return Define(Gbnf.Literal(Compact(constant)) + " ws");
        }

        if (schema.TryGetProperty("enum", out JsonElement values))
        {
            Only(schema, path, "enum", "type");
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw Refuse(path + ".enum", "must be a non-empty array");
            }

            var options = new List<string>();
            foreach (JsonElement v in values.EnumerateArray())
            {
                options.Add(Gbnf.Literal(Compact(v)));
            }

            return Define("(" + string.Join(" | ", options) + ") ws");
        }

        foreach (string keyword in new[] { "anyOf", "oneOf" })
        {
            if (schema.TryGetProperty(keyword, out JsonElement branches))
            {
                Only(schema, path, keyword);
                return Define(string.Join(" | ", Branches(branches, $"{path}.{keyword}")));
            }
        }

        if (schema.TryGetProperty("allOf", out JsonElement all))
        {
            Only(schema, path, "allOf");
            if (all.ValueKind != JsonValueKind.Array || all.GetArrayLength() != 1)
            {
                throw Refuse(path + ".allOf", "only allOf with exactly one schema is supported");
            }

            return Visit(all[0], path + ".allOf[0]");
        }

        List<string> types = Types(schema, path);
        var known = new HashSet<string>(StringComparer.Ordinal) { "type" };
        foreach (string type in types)
        {
            known.UnionWith(TypeKeywords[type]);
        }

        foreach (JsonProperty property in schema.EnumerateObject())
        {
            if (!known.Contains(property.Name) && !Annotations.Contains(property.Name))
            {
                throw Refuse(path, types.Count == TypeKeywords.Count || TypeKeywords.Values.Any(k => k.Contains(property.Name))
                    ? $"keyword '{property.Name}' does not apply to type {string.Join(" or ", types)}"
                    : $"keyword '{property.Name}' is not supported");
            }
        }

        if (types.Count == TypeKeywords.Count)
        {
            return "value";
        }

        var alternatives = new List<string>();
        foreach (string type in types)
        {
            alternatives.Add(type switch
            {
                "string" => StringRule(schema, path),
                "integer" => IntegerRule(schema, path),
                "number" => NumberRule(schema, path),
                "object" => ObjectRule(schema, path),
                "array" => ArrayRule(schema, path),
                "boolean" => "boolean",
                _ => "null",
            });
        }

        return alternatives.Count == 1 ? alternatives[0] : Define(string.Join(" | ", alternatives));
    }

    private static void Only(JsonElement schema, string path, params string[] allowed)
    {
        foreach (JsonProperty property in schema.EnumerateObject())
        {
            if (Array.IndexOf(allowed, property.Name) < 0 && !Annotations.Contains(property.Name))
            {
                throw Refuse(path, $"keyword '{property.Name}' next to '{allowed[0]}' is not supported");
            }
        }
    }

    private List<string> Branches(JsonElement branches, string path)
    {
        if (branches.ValueKind != JsonValueKind.Array || branches.GetArrayLength() == 0)
        {
            throw Refuse(path, "must be a non-empty array of schemas");
        }

        var result = new List<string>();
        int i = 0;
        foreach (JsonElement branch in branches.EnumerateArray())
        {
            result.Add(Visit(branch, $"{path}[{i++}]"));
        }

        return result;
    }

    private string Ref(JsonElement reference, string path)
    {
        string target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : throw Refuse(path + ".$ref", "must be a string");
        if (_refs.TryGetValue(target, out string? rule))
        {
            return rule;
        }

        JsonElement resolved = Resolve(target, path);
        string name = "r" + (++_count).ToString(CultureInfo.InvariantCulture);
        _refs[target] = name;
        string body = Visit(resolved, target);
        _rules.Append(name).Append(" ::= ").Append(body).Append('\n');
        return name;
    }

    private JsonElement Resolve(string target, string path)
    {
        if (target == "#")
        {
            return _root;
        }

        string[] parts = target.StartsWith("#/", StringComparison.Ordinal) ? target[2..].Split('/') : [];
        if (parts.Length != 2 || parts[0] is not ("$defs" or "definitions"))
        {
            throw Refuse(path + ".$ref", $"'{target}' is not supported; use #, #/$defs/NAME or #/definitions/NAME");
        }

        string key = parts[1].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
        if (_root.ValueKind == JsonValueKind.Object && _root.TryGetProperty(parts[0], out JsonElement defs)
            && defs.ValueKind == JsonValueKind.Object && defs.TryGetProperty(key, out JsonElement found))
        {
            return found;
        }

        throw Refuse(path + ".$ref", $"'{target}' does not resolve to a schema");
    }

    private static List<string> Types(JsonElement schema, string path)
    {
        if (!schema.TryGetProperty("type", out JsonElement type))
        {
            if (schema.TryGetProperty("properties", out _) || schema.TryGetProperty("additionalProperties", out _) || schema.TryGetProperty("required", out _))
            {
                return ["object"];
            }

            if (schema.TryGetProperty("items", out _) || schema.TryGetProperty("prefixItems", out _))
            {
                return ["array"];
            }

            if (schema.TryGetProperty("pattern", out _) || schema.TryGetProperty("minLength", out _) || schema.TryGetProperty("maxLength", out _) || schema.TryGetProperty("format", out _))
            {
                return ["string"];
            }

            return [.. TypeKeywords.Keys];
        }

        var types = new List<string>();
        List<JsonElement> listed = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray()] : [type];
        foreach (JsonElement t in listed)
        {
            string? name = t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (name is null || !TypeKeywords.ContainsKey(name))
            {
                throw Refuse(path + ".type", $"'{t.GetRawText()}' is not a JSON Schema type");
            }

            if (!types.Contains(name))
            {
                types.Add(name);
            }
        }

        if (types.Count == 0)
        {
            throw Refuse(path + ".type", "must name at least one type");
        }

        return types;
    }

    private string StringRule(JsonElement schema, string path)
    {
        bool hasPattern = schema.TryGetProperty("pattern", out JsonElement pattern);
        bool hasFormat = schema.TryGetProperty("format", out JsonElement format);
        int? min = Bound(schema, "minLength", path);
        int? max = Bound(schema, "maxLength", path);
        if ((hasPattern || hasFormat) && (min is not null || max is not null))
        {
            throw Refuse(path, "minLength or maxLength together with pattern or format is not supported");
        }

        if (hasPattern && hasFormat)
        {
            throw Refuse(path, "pattern together with format is not supported");
        }

        if (hasPattern)
        {
            if (pattern.ValueKind != JsonValueKind.String)
            {
                throw Refuse(path + ".pattern", "must be a string");
            }

            try
            {
                return Define("\"\\\"\" " + RegexGrammar.ToJsonStringContent(pattern.GetString()!, "char") + " \"\\\"\" ws");
            }
            catch (GrammarException ex)
            {
                throw Refuse(path + ".pattern", ex.Message);
            }
        }

        if (hasFormat)
        {
            string body = format.GetString() switch
            {
                "date" => "date",
                "time" => "time",
                "date-time" => "date \"T\" time",
                "uuid" => "uuid",
                _ => throw Refuse(path + ".format", $"format '{format.GetRawText().Trim('"')}' is not supported (date, time, date-time, uuid are)"),
            };
            return Define("\"\\\"\" " + body + " \"\\\"\" ws");
        }

        if (min is null && max is null)
        {
            return "string";
        }

        int lo = min ?? 0;
        if (max < lo)
        {
            throw Refuse(path, "maxLength is below minLength");
        }

        string repeat = max is null ? $"{{{lo},}}" : $"{{{lo},{max}}}";
        return Define("\"\\\"\" char" + repeat + " \"\\\"\" ws");
    }

    private static int? Bound(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out JsonElement value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long n) || n < 0)
        {
            throw Refuse($"{path}.{keyword}", "must be a non-negative integer");
        }

        if (n > MaxLengthBound)
        {
            throw Refuse($"{path}.{keyword}", $"values above {MaxLengthBound:N0} are not supported");
        }

        return (int)n;
    }

    private static double? Number(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw Refuse($"{path}.{keyword}", "must be a number");
    }

    private string IntegerRule(JsonElement schema, string path)
    {
        double? min = Number(schema, "minimum", path);
        double? max = Number(schema, "maximum", path);
        double? exclusiveMin = Number(schema, "exclusiveMinimum", path);
        double? exclusiveMax = Number(schema, "exclusiveMaximum", path);
        if (min is null && max is null && exclusiveMin is null && exclusiveMax is null)
        {
            return "integer";
        }

        long lo = -MaxMagnitude;
        long hi = MaxMagnitude;
        if (min is { } a)
        {
            lo = Math.Max(lo, Clamp(Math.Ceiling(a)));
        }

        if (exclusiveMin is { } b)
        {
            lo = Math.Max(lo, Clamp(Math.Floor(b) + 1));
        }

        if (max is { } c)
        {
            hi = Math.Min(hi, Clamp(Math.Floor(c)));
        }

        if (exclusiveMax is { } d)
        {
            hi = Math.Min(hi, Clamp(Math.Ceiling(d) - 1));
        }

        if (lo > hi)
        {
            throw Refuse(path, "no integer lies within the bounds");
        }

        return Define("(" + IntegerRange(lo, hi) + ") ws");
    }

    private string NumberRule(JsonElement schema, string path)
    {
        double? min = Number(schema, "minimum", path);
        double? max = Number(schema, "maximum", path);
        if (min is null && max is null)
        {
            return "number";
        }

        foreach ((double? bound, string keyword) in new[] { (min, "minimum"), (max, "maximum") })
        {
            if (bound is { } v && (v != Math.Floor(v) || Math.Abs(v) > MaxMagnitude))
            {
                throw Refuse($"{path}.{keyword}", "number bounds must be integers of at most 16 digits");
            }
        }

        long? lo = min is { } x ? (long)x : null;
        long? hi = max is { } y ? (long)y : null;
        if (lo > hi)
        {
            throw Refuse(path, "maximum is below minimum");
        }

        const string Fraction = "(\".\" [0-9]{1,16})?";
        const string ZeroFraction = "(\".\" \"0\"{1,16})?";
        var options = new List<string>();
        if (hi is null || hi >= 0)
        {
            long from = Math.Max(lo ?? 0, 0);
            if (hi is null)
            {
                options.Add("(" + UnsignedRange(from, MaxMagnitude) + ") " + Fraction);
            }
            else
            {
                if (from <= hi - 1)
                {
                    options.Add("(" + UnsignedRange(from, hi.Value - 1) + ") " + Fraction);
                }

                options.Add(Gbnf.Literal(hi.Value.ToString(CultureInfo.InvariantCulture)) + " " + ZeroFraction);
            }
        }

        if (lo is null || lo < 0)
        {
            // x = -a with lo <= x <= hi, so -hi <= a <= -lo.
            long from = hi is { } h && h < 0 ? -h : 0;
            if (lo is null)
            {
                options.Add("\"-\" (" + UnsignedRange(from, MaxMagnitude) + ") " + Fraction);
            }
            else
            {
                long to = -lo.Value;
                string part = "\"-\" (" + Gbnf.Literal(to.ToString(CultureInfo.InvariantCulture)) + " " + ZeroFraction;
                if (from <= to - 1)
                {
                    part += " | (" + UnsignedRange(from, to - 1) + ") " + Fraction;
                }

                options.Add(part + ")");
            }
        }

        return Define("(" + string.Join(" | ", options) + ") ws");
    }

    private static long Clamp(double v) => v >= MaxMagnitude ? MaxMagnitude : v <= -MaxMagnitude ? -MaxMagnitude : (long)v;

    /// <summary>A GBNF expression matching exactly the decimal integers in [lo, hi] (no leading zeros, no "-0").</summary>
    internal static string IntegerRange(long lo, long hi)
    {
        var options = new List<string>();
        if (hi >= 0)
        {
            options.Add(UnsignedRange(Math.Max(lo, 0), hi));
        }

        if (lo < 0)
        {
            options.Add("\"-\" (" + UnsignedRange(Math.Max(1, -Math.Min(hi, -1)), -lo) + ")");
        }

        return string.Join(" | ", options);
    }

    private static string UnsignedRange(long lo, long hi)
    {
        string a = lo.ToString(CultureInfo.InvariantCulture);
        string b = hi.ToString(CultureInfo.InvariantCulture);
        if (a.Length == b.Length)
        {
            return SameLength(a, b);
        }

        var options = new List<string> { SameLength(a, new string('9', a.Length)) };
        for (int length = a.Length + 1; length < b.Length; length++)
        {
            options.Add($"[1-9] [0-9]{{{length - 1}}}");
        }

        options.Add(SameLength("1" + new string('0', b.Length - 1), b));
        return string.Join(" | ", options);
    }

    private static string SameLength(string a, string b)
    {
        if (a == b)
        {
            return Gbnf.Literal(a);
        }

        int p = a.AsSpan().CommonPrefixLength(b);
        string prefix = p > 0 ? Gbnf.Literal(a[..p]) + " " : string.Empty;
        char da = a[p];
        char db = b[p];
        int rest = a.Length - p - 1;
        var options = new List<string> { $"\"{da}\" {AtLeast(a[(p + 1)..])}" };
        if (da + 1 <= db - 1)
        {
            options.Add($"[{(char)(da + 1)}-{(char)(db - 1)}] {Any(rest)}");
        }

        options.Add($"\"{db}\" {AtMost(b[(p + 1)..])}");
        return prefix + "(" + string.Join(" | ", options) + ")";
    }

    private static string Any(int digits) => digits == 0 ? "\"\"" : $"[0-9]{{{digits}}}";

    // Digit strings of the same length that are >= s.
    private static string AtLeast(string s)
    {
        if (s.Length == 0 || s.All(c => c == '0'))
        {
            return Any(s.Length);
        }

        string first = $"\"{s[0]}\" {AtLeast(s[1..])}";
        return s[0] == '9' ? first : $"({first} | [{(char)(s[0] + 1)}-9] {Any(s.Length - 1)})";
    }

    // Digit strings of the same length that are <= s.
    private static string AtMost(string s)
    {
        if (s.Length == 0 || s.All(c => c == '9'))
        {
            return Any(s.Length);
        }

        string first = $"\"{s[0]}\" {AtMost(s[1..])}";
        return s[0] == '0' ? first : $"({first} | [0-{(char)(s[0] - 1)}] {Any(s.Length - 1)})";
    }

    private string ObjectRule(JsonElement schema, string path)
    {
        bool hasProperties = schema.TryGetProperty("properties", out JsonElement properties);
        bool hasAdditional = schema.TryGetProperty("additionalProperties", out JsonElement additional);
        if (hasProperties && properties.ValueKind != JsonValueKind.Object)
        {
            throw Refuse(path + ".properties", "must be an object");
        }

        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out JsonElement req))
        {
            if (req.ValueKind != JsonValueKind.Array)
            {
                throw Refuse(path + ".required", "must be an array of property names");
            }

            foreach (JsonElement name in req.EnumerateArray())
            {
                string n = name.ValueKind == JsonValueKind.String ? name.GetString()! : throw Refuse(path + ".required", "must be an array of property names");
                if (!hasProperties || !properties.TryGetProperty(n, out _))
                {
                    throw Refuse(path + ".required", $"'{n}' is required but not among properties");
                }

                required.Add(n);
            }
        }

        if (!hasProperties && !hasAdditional)
        {
            return "object";
        }

        // Extra members: any name, a value of additionalProperties' schema (true: any value).
        string? extra = null;
        if (hasAdditional && additional.ValueKind != JsonValueKind.False)
        {
            string value = Visit(additional, path + ".additionalProperties");
            extra = Define("string \":\" ws " + value);
        }

        var members = new List<(string Rule, bool Required)>();
        if (hasProperties)
        {
            foreach (JsonProperty property in properties.EnumerateObject())
            {
                string value = Visit(property.Value, $"{path}.properties.{property.Name}");
                string key = Gbnf.Literal(JsonSerializer.Serialize(property.Name, RelaxedOptions));
                members.Add((Define(key + " ws \":\" ws " + value), required.Contains(property.Name)));
            }
        }

        // first(i): members i.. with none written yet; after(i): the same once one is written (commas before).
        int count = members.Count;
        var first = new string[count + 1];
        var after = new string[count + 1];
        after[count] = extra is null ? "\"\"" : Define($"(\",\" ws {extra})*");
        first[count] = extra is null ? "\"\"" : Define($"({extra} (\",\" ws {extra})*)?");
        for (int i = count - 1; i >= 0; i--)
        {
            (string member, bool isRequired) = members[i];
            after[i] = Define(isRequired ? $"\",\" ws {member} {after[i + 1]}" : $"\",\" ws {member} {after[i + 1]} | {after[i + 1]}");
            first[i] = Define(isRequired ? $"{member} {after[i + 1]}" : $"{member} {after[i + 1]} | {first[i + 1]}");
        }

        return Define($"\"{{\" ws {first[0]} \"}}\" ws");
    }

    private string ArrayRule(JsonElement schema, string path)
    {
        int min = Bound(schema, "minItems", path) ?? 0;
        int? max = Bound(schema, "maxItems", path);
        if (max < min)
        {
            throw Refuse(path, "maxItems is below minItems");
        }

        List<string> prefix = schema.TryGetProperty("prefixItems", out JsonElement prefixItems) ? Branches(prefixItems, path + ".prefixItems") : [];
        string item = "value";
        if (schema.TryGetProperty("items", out JsonElement items))
        {
            if (items.ValueKind == JsonValueKind.False)
            {
                max = Math.Min(max ?? prefix.Count, prefix.Count);
                if (min > max)
                {
                    throw Refuse(path, "minItems is above the number of prefixItems and items is false");
                }
            }
            else
            {
                item = Visit(items, path + ".items");
            }
        }

        if (max == 0)
        {
            return Define("\"[\" ws \"]\" ws");
        }

        // tail(k): what may follow once k elements are written; element k is required below minItems.
        int limit = max ?? Math.Max(min, prefix.Count);
        string tail = max is null ? Define($"(\",\" ws {item})*") : "\"\"";
        for (int k = limit - 1; k >= 1; k--)
        {
            string element = k < prefix.Count ? prefix[k] : item;
            tail = Define(k < min ? $"\",\" ws {element} {tail}" : $"(\",\" ws {element} {tail})?");
        }

        string head = prefix.Count > 0 ? prefix[0] : item;
        return Define(min == 0 ? $"\"[\" ws ({head} {tail})? \"]\" ws" : $"\"[\" ws {head} {tail} \"]\" ws");
    }

    private static string Compact(JsonElement value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, RelaxedWriter))
        {
            value.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

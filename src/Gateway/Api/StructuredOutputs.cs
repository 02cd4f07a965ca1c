using System.Text.Json;
using System.Text.RegularExpressions;
using Inference.Worker.Constraints;

namespace Inference.Gateway.Api;

/// <summary>
/// Turns a request's output constraint into one GBNF grammar for the worker, validated here so a bad schema,
/// pattern or grammar is a 400 naming its parameter before any worker sees it: OpenAI's response_format
/// (text, json_object, json_schema) and vLLM's structured_outputs (json, regex, choice, grammar, json_object) with
/// its older guided_* names. One constraint per request.
/// </summary>
internal static partial class StructuredOutputs
{
    private static readonly (string Legacy, string Key)[] GuidedNames =
    [
        ("guided_json", "json"), ("guided_regex", "regex"), ("guided_choice", "choice"), ("guided_grammar", "grammar"),
    ];

    private static readonly JsonElement AnyValue = JsonDocument.Parse("true").RootElement.Clone();

    /// <summary>The request's grammar, or null when its output is unconstrained.</summary>
    public static string? Parse(JsonElement root)
    {
        // (the top-level field, the field the grammar came from, the grammar)
        var found = new List<(string Field, string Param, string Gbnf)>();
        if (Present(root, "response_format") is { } format && ResponseFormat(format) is { } fromFormat)
        {
            found.Add(("response_format", fromFormat.Param, fromFormat.Gbnf));
        }

        if (Present(root, "structured_outputs") is { } structured)
        {
            (string param, string gbnf) = Structured(structured);
            found.Add(("structured_outputs", param, gbnf));
        }

        foreach ((string legacy, string key) in GuidedNames)
        {
            if (Present(root, legacy) is { } value)
            {
                found.Add((legacy, legacy, Constraint(key, value, legacy)));
            }
        }

        if (found.Count > 1)
        {
            throw ApiException.Invalid(found[1].Field, $"'{found[1].Field}' cannot be combined with '{found[0].Field}'; give one output constraint.");
        }

        return found.Count == 0 ? null : Checked(found[0].Gbnf, found[0].Param);
    }

    private static JsonElement? Present(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    // OpenAI: {"type": "text" | "json_object" | "json_schema", "json_schema": {name, description, schema, strict}}.
    private static (string Param, string Gbnf)? ResponseFormat(JsonElement format)
    {
        if (format.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType("response_format", "an object");
        }

        string type = Present(format, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString()! : throw ApiException.Missing("response_format.type");
        switch (type)
        {
            case "text":
                RequestParser.OnlyFieldsUnder(format, "response_format.", "type");
                return null;
            case "json_object":
                RequestParser.OnlyFieldsUnder(format, "response_format.", "type");
                return ("response_format", JsonSchemaGrammar.AnyObject());
            case "json_schema":
                RequestParser.OnlyFieldsUnder(format, "response_format.", "type", "json_schema");
                JsonElement spec = Present(format, "json_schema") is { } js ? js : throw ApiException.Missing("response_format.json_schema");
                if (spec.ValueKind != JsonValueKind.Object)
                {
                    throw ApiException.WrongType("response_format.json_schema", "an object");
                }

                RequestParser.OnlyFieldsUnder(spec, "response_format.json_schema.", "name", "description", "schema", "strict");
                string name = Present(spec, "name") is { ValueKind: JsonValueKind.String } n ? n.GetString()! : throw ApiException.Missing("response_format.json_schema.name");
                if (!SchemaName().IsMatch(name))
                {
                    throw ApiException.Invalid("response_format.json_schema.name", "name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.");
                }

                if (Present(spec, "description") is { } d && d.ValueKind != JsonValueKind.String)
                {
                    throw ApiException.WrongType("response_format.json_schema.description", "a string");
                }

                if (Present(spec, "strict") is { } s && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw ApiException.WrongType("response_format.json_schema.strict", "a boolean");
                }

                // Without a schema the output is any JSON value. strict or not, the schema is enforced in full, and a
                // keyword it cannot enforce is refused either way.
                return ("response_format.json_schema.schema", Schema(Present(spec, "schema") ?? AnyValue, "response_format.json_schema.schema"));
            default:
                throw ApiException.Invalid("response_format.type", $"'{type}' is not one of 'text', 'json_object', 'json_schema'.");
        }
    }

    // vLLM: exactly one of json, regex, choice, grammar, json_object.
    private static (string Param, string Gbnf) Structured(JsonElement structured)
    {
        if (structured.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType("structured_outputs", "an object");
        }

        string? key = null;
        JsonElement value = default;
        foreach (JsonProperty p in structured.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (p.Name is not ("json" or "regex" or "choice" or "grammar" or "json_object"))
            {
                throw ApiException.Invalid($"structured_outputs.{p.Name}", $"'structured_outputs.{p.Name}' is not supported by this server; give one of json, regex, choice, grammar, json_object.", "unsupported_parameter");
            }

            if (key is not null)
            {
                throw ApiException.Invalid($"structured_outputs.{p.Name}", $"structured_outputs takes one constraint; both '{key}' and '{p.Name}' are given.");
            }

            key = p.Name;
            value = p.Value;
        }

        return key is null
            ? throw ApiException.Invalid("structured_outputs", "structured_outputs needs one of json, regex, choice, grammar, json_object.")
            : ($"structured_outputs.{key}", Constraint(key, value, $"structured_outputs.{key}"));
    }

    private static string Constraint(string key, JsonElement value, string param)
    {
        switch (key)
        {
            case "json":
                if (value.ValueKind == JsonValueKind.String)
                {
                    // vLLM also takes the schema as JSON text.
                    try
                    {
                        using JsonDocument doc = JsonDocument.Parse(value.GetString()!);
                        return Schema(doc.RootElement.Clone(), param);
                    }
                    catch (JsonException ex)
                    {
                        throw ApiException.Invalid(param, $"{param} is not valid JSON: {ex.Message}");
                    }
                }

                return Schema(value, param);
            case "json_object":
                return value.ValueKind == JsonValueKind.True ? JsonSchemaGrammar.AnyObject() : throw ApiException.Invalid(param, $"{param} must be true.");
            case "regex":
                string pattern = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw ApiException.WrongType(param, "a string");
                return Translate(() => RegexGrammar.ToGbnf(pattern), param);
            case "grammar":
                return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw ApiException.WrongType(param, "a string");
            default:
                if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
                {
                    throw ApiException.Invalid(param, $"{param} must be a non-empty array of strings.");
                }

                var options = new List<string>();
                foreach (JsonElement c in value.EnumerateArray())
                {
                    options.Add(c.ValueKind == JsonValueKind.String ? Gbnf.Literal(c.GetString()!) : throw ApiException.Invalid(param, $"{param} must be a non-empty array of strings."));
                }

                return "root ::= " + string.Join(" | ", options) + "\n";
        }
    }

    private static string Schema(JsonElement schema, string param) => Translate(() => JsonSchemaGrammar.ToGbnf(schema), param);

    private static string Translate(Func<string> translate, string param)
    {
        try
        {
            return translate();
        }
        catch (GrammarException ex)
        {
            throw ApiException.Invalid(param, $"{param}: {ex.Message}", "invalid_schema");
        }
    }

    // The worker compiles it again against its vocabulary; compiling here refuses what cannot compile (a left
    // recursive $ref, a schema past the size limit) with the parameter named, at a bounded cost.
    private static string Checked(string gbnf, string param)
    {
        try
        {
            Grammar.Parse(gbnf);
            return gbnf;
        }
        catch (GrammarException ex)
        {
            throw ApiException.Invalid(param, $"{param} cannot be compiled: {ex.Message}", "invalid_schema");
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex SchemaName();
}

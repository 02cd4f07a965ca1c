using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Inference.Worker.Constraints;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Api;

/// <summary>
/// A chat request's tools, tool_choice and parallel_tool_calls, validated once: each function's name and its
/// parameters schema (translated to a grammar, so a schema the server cannot enforce is a 400 naming
/// tools[i].function.parameters), and for "required" or a named function the grammar that forces the call.
/// "required" decodes <c>[{"name": ..., "arguments": {...}}, ...]</c> (one element unless parallel_tool_calls);
/// a named function decodes its arguments object alone.
/// </summary>
internal sealed partial class ToolChoices
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private ToolChoices(IReadOnlyList<ChatTool>? definitions, ToolMode mode, string? name, string? grammar)
    {
        Definitions = definitions;
        Mode = mode;
        Name = name;
        Grammar = grammar;
    }

    public IReadOnlyList<ChatTool>? Definitions { get; }

    public ToolMode Mode { get; }

    public string? Name { get; }

    public string? Grammar { get; }

    public string ModeName => Mode switch
    {
        ToolMode.Required => "required",
        ToolMode.Named => $"function {Name}",
        ToolMode.Auto => "auto",
        _ => "none",
    };

    public static ToolChoices Parse(JsonElement root)
    {
        var tools = new List<(string Name, JsonElement Parameters, string Path)>();
        var definitions = new List<ChatTool>();
        if (Present(root, "tools") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw ApiException.WrongType("tools", "an array of tools");
            }

            int i = 0;
            foreach (JsonElement tool in list.EnumerateArray())
            {
                string at = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object)
                {
                    throw ApiException.WrongType(at, "an object");
                }

                RequestParser.OnlyFieldsUnder(tool, at + ".", "type", "function");
                if (Present(tool, "type") is not { ValueKind: JsonValueKind.String } type || !type.ValueEquals("function"))
                {
                    throw ApiException.Invalid(at + ".type", $"{at}.type must be 'function' (the only tool type this server runs).");
                }

                JsonElement function = Present(tool, "function") is { ValueKind: JsonValueKind.Object } f ? f : throw ApiException.Missing(at + ".function");
                RequestParser.OnlyFieldsUnder(function, at + ".function.", "name", "description", "parameters", "strict");
                string name = Present(function, "name") is { ValueKind: JsonValueKind.String } n ? n.GetString()! : throw ApiException.Missing(at + ".function.name");
                if (!FunctionName().IsMatch(name))
                {
                    throw ApiException.Invalid(at + ".function.name", "a function name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.");
                }

                if (tools.Exists(t => t.Name == name))
                {
                    throw ApiException.Invalid(at + ".function.name", $"function '{name}' is defined twice.");
                }

                string? description = null;
                if (Present(function, "description") is { } d)
                {
                    description = d.ValueKind == JsonValueKind.String ? d.GetString() : throw ApiException.WrongType(at + ".function.description", "a string");
                }

                if (Present(function, "strict") is { } s && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw ApiException.WrongType(at + ".function.strict", "a boolean");
                }

                // Omitted parameters: a function without arguments, called with {}.
                JsonElement parameters = Present(function, "parameters") is { } p ? p.Clone() : EmptyObject;
                string path = at + ".function.parameters";
                if (parameters.ValueKind != JsonValueKind.Object
                    || (parameters.TryGetProperty("type", out JsonElement t) && !(t.ValueKind == JsonValueKind.String && t.ValueEquals("object"))))
                {
                    throw ApiException.Invalid(path, $"{path} must be a JSON Schema of type object.");
                }

                // Translating validates the schema: a keyword the server cannot enforce is refused here, by name.
                Translate(parameters, path);
                tools.Add((name, parameters, path));
                definitions.Add(new ChatTool(name, description, Present(function, "parameters") is { } raw ? raw.GetRawText() : null));
            }
        }

        bool parallel = true;
        if (Present(root, "parallel_tool_calls") is { } pc)
        {
            parallel = pc.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.WrongType("parallel_tool_calls", "a boolean"),
            };
        }

        (ToolMode mode, string? named) = Choice(root, tools.Count > 0, tools.ConvertAll(t => t.Name));
        string? grammar = mode switch
        {
            ToolMode.Named => Translate(tools.Find(t => t.Name == named).Parameters, tools.Find(t => t.Name == named).Path),
            ToolMode.Required => RequiredGrammar(tools, parallel),
            _ => null,
        };
        return new ToolChoices(definitions.Count == 0 ? null : definitions, mode, named, grammar);
    }

    /// <summary>An assistant message's tool_calls, as the template will show them.</summary>
    public static List<ChatToolCall>? ParseCalls(JsonElement message, string at)
    {
        if (Present(message, "tool_calls") is not { } calls)
        {
            return null;
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType(at + ".tool_calls", "an array");
        }

        var result = new List<ChatToolCall>();
        int i = 0;
        foreach (JsonElement call in calls.EnumerateArray())
        {
            string path = $"{at}.tool_calls[{i++}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType(path, "an object");
            }

            RequestParser.OnlyFieldsUnder(call, path + ".", "id", "type", "function");
            string id = Present(call, "id") is { ValueKind: JsonValueKind.String } idv ? idv.GetString()! : throw ApiException.Missing(path + ".id");
            if (Present(call, "type") is { } type && !(type.ValueKind == JsonValueKind.String && type.ValueEquals("function")))
            {
                throw ApiException.Invalid(path + ".type", $"{path}.type must be 'function'.");
            }

            JsonElement function = Present(call, "function") is { ValueKind: JsonValueKind.Object } f ? f : throw ApiException.Missing(path + ".function");
            RequestParser.OnlyFieldsUnder(function, path + ".function.", "name", "arguments");
            string name = Present(function, "name") is { ValueKind: JsonValueKind.String } n ? n.GetString()! : throw ApiException.Missing(path + ".function.name");
            string arguments = Present(function, "arguments") is { ValueKind: JsonValueKind.String } a ? a.GetString()! : throw ApiException.Missing(path + ".function.arguments");
            try
            {
                using JsonDocument parsed = JsonDocument.Parse(arguments.Length == 0 ? "{}" : arguments);
            }
            catch (JsonException)
            {
                throw ApiException.Invalid(path + ".function.arguments", $"{path}.function.arguments must be JSON text.");
            }

            result.Add(new ChatToolCall(id, name, arguments));
        }

        return result.Count == 0 ? null : result;
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("""{"type":"object","properties":{},"additionalProperties":false}""").RootElement.Clone();

    private static (ToolMode Mode, string? Name) Choice(JsonElement root, bool haveTools, List<string> names)
    {
        if (Present(root, "tool_choice") is not { } choice)
        {
            return (haveTools ? ToolMode.Auto : ToolMode.None, null);
        }

        if (choice.ValueKind == JsonValueKind.String)
        {
            ToolMode mode = choice.GetString() switch
            {
                "none" => ToolMode.None,
                "auto" => ToolMode.Auto,
                "required" => ToolMode.Required,
                _ => throw ApiException.Invalid("tool_choice", "tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}."),
            };
            if (mode != ToolMode.None && !haveTools)
            {
                throw ApiException.Invalid("tool_choice", $"tool_choice '{choice.GetString()}' needs tools.");
            }

            return (mode, null);
        }

        if (choice.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType("tool_choice", "a string or an object");
        }

        RequestParser.OnlyFieldsUnder(choice, "tool_choice.", "type", "function");
        if (Present(choice, "type") is not { ValueKind: JsonValueKind.String } t || !t.ValueEquals("function"))
        {
            throw ApiException.Invalid("tool_choice.type", "tool_choice.type must be 'function'.");
        }

        JsonElement function = Present(choice, "function") is { ValueKind: JsonValueKind.Object } f ? f : throw ApiException.Missing("tool_choice.function");
        RequestParser.OnlyFieldsUnder(function, "tool_choice.function.", "name");
        string name = Present(function, "name") is { ValueKind: JsonValueKind.String } n ? n.GetString()! : throw ApiException.Missing("tool_choice.function.name");
        return names.Contains(name) ? (ToolMode.Named, name) : throw ApiException.Invalid("tool_choice.function.name", $"function '{name}' is not among tools.");
    }

    // One schema for the array of calls, each tool's $defs hoisted to its root so their references still resolve.
    private static string RequiredGrammar(List<(string Name, JsonElement Parameters, string Path)> tools, bool parallel)
    {
        var defs = new JsonObject();
        var branches = new JsonArray();
        foreach ((string name, JsonElement parameters, string path) in tools)
        {
            JsonObject schema = JsonNode.Parse(parameters.GetRawText())!.AsObject();
            foreach (string key in new[] { "$defs", "definitions" })
            {
                if (schema[key] is JsonObject own)
                {
                    foreach ((string defName, JsonNode? def) in own.ToList())
                    {
                        if (defs.ContainsKey(defName))
                        {
                            throw ApiException.Invalid($"{path}.{key}.{defName}", $"tool_choice 'required' needs the tools' $defs names to be distinct; '{defName}' repeats.");
                        }

                        defs[defName] = def?.DeepClone();
                    }

                    schema.Remove(key);
                }
            }

            if (schema.ToJsonString().Contains("\"$ref\":\"#\"", StringComparison.Ordinal) || schema.ToJsonString().Contains("#/definitions/", StringComparison.Ordinal))
            {
                throw ApiException.Invalid(path, "with tool_choice 'required', parameters may refer only to #/$defs/NAME.");
            }

            branches.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject { ["name"] = new JsonObject { ["const"] = name }, ["arguments"] = schema },
                ["required"] = new JsonArray("name", "arguments"),
                ["additionalProperties"] = false,
            });
        }

        var root = new JsonObject
        {
            ["type"] = "array",
            ["items"] = new JsonObject { ["anyOf"] = branches },
            ["minItems"] = 1,
        };
        if (!parallel)
        {
            root["maxItems"] = 1;
        }

        if (defs.Count > 0)
        {
            root["$defs"] = defs;
        }

        using JsonDocument doc = JsonDocument.Parse(root.ToJsonString(Relaxed));
        return Translate(doc.RootElement, "tools");
    }

    private static string Translate(JsonElement schema, string path)
    {
        try
        {
            string gbnf = JsonSchemaGrammar.ToGbnf(schema);
            Inference.Worker.Constraints.Grammar.Parse(gbnf);
            return gbnf;
        }
        catch (GrammarException ex)
        {
            throw ApiException.Invalid(path, $"{path}: {ex.Message}", "invalid_schema");
        }
    }

    private static JsonElement? Present(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();
}

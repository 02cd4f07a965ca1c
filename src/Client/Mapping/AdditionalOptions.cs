using System.Collections;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Mapping;

/// <summary>Applies <see cref="InferenceAdditionalProperties"/> keys to a request; any other key is refused by name.</summary>
internal static class AdditionalOptions
{
    public static void Apply(Proto.ChatRequest request, AdditionalPropertiesDictionary extras)
    {
        Proto.SamplingOptions sampling = request.Sampling;
        foreach ((string key, object? value) in extras)
        {
            switch (key)
            {
                case InferenceAdditionalProperties.MinP:
                    sampling.MinP = Float(key, value);
                    break;
                case InferenceAdditionalProperties.RepetitionPenalty:
                    sampling.RepetitionPenalty = Float(key, value);
                    break;
                case InferenceAdditionalProperties.MinTokens:
                    sampling.MinTokens = Int(key, value);
                    break;
                case InferenceAdditionalProperties.StopTokenIds:
                    sampling.StopTokenIds.Add(Items(key, value).Select(v => Int(key, v)));
                    break;
                case InferenceAdditionalProperties.IgnoreEos:
                    sampling.IgnoreEos = Bool(key, value);
                    break;
                case InferenceAdditionalProperties.LogitBias:
                    foreach ((object? id, object? bias) in Pairs(key, value))
                    {
                        sampling.LogitBias[Int(key, id)] = Float(key, bias);
                    }

                    break;
                case InferenceAdditionalProperties.Priority:
                    sampling.Priority = Int(key, value);
                    break;
                case InferenceAdditionalProperties.User:
                    sampling.User = String(key, value);
                    break;
                case InferenceAdditionalProperties.SkipSpecialTokens:
                    sampling.SkipSpecialTokens = Bool(key, value);
                    break;
                case InferenceAdditionalProperties.NoCache:
                    sampling.NoCache = Bool(key, value);
                    break;
                case InferenceAdditionalProperties.AddGenerationPrompt:
                    request.AddGenerationPrompt = Bool(key, value);
                    break;
                case InferenceAdditionalProperties.Regex:
                    Format(request, key).Regex = String(key, value);
                    break;
                case InferenceAdditionalProperties.Grammar:
                    Format(request, key).Grammar = String(key, value);
                    break;
                case InferenceAdditionalProperties.Choice:
                    var choice = new Proto.ChoiceFormat();
                    choice.Choices.Add(Items(key, value).Select(v => String(key, v)));
                    Format(request, key).Choice = choice;
                    break;
                case InferenceAdditionalProperties.Strict:
                    bool strict = Bool(key, value);
                    if (request.Tools.Count == 0 && request.ResponseFormat?.JsonSchema is null)
                    {
                        throw new ArgumentException($"ChatOptions.AdditionalProperties['{key}'] applies to tools and a JSON schema response format; the request has neither.");
                    }

                    foreach (Proto.Tool tool in request.Tools)
                    {
                        tool.Strict = strict;
                    }

                    if (request.ResponseFormat?.JsonSchema is { } schema)
                    {
                        schema.Strict = strict;
                    }

                    break;
                default:
                    throw new ArgumentException(
                        $"ChatOptions.AdditionalProperties['{key}'] is not a parameter of the inference gateway (known: see InferenceAdditionalProperties).");
            }
        }
    }

    // One response format per request: an extra format next to ChatOptions.ResponseFormat (or another extra) is ambiguous.
    private static Proto.ResponseFormat Format(Proto.ChatRequest request, string key)
    {
        if (request.ResponseFormat is not null)
        {
            throw new ArgumentException(
                $"ChatOptions.AdditionalProperties['{key}'] sets a response format, but the request already has one ({request.ResponseFormat.FormatCase}).");
        }

        request.ResponseFormat = new Proto.ResponseFormat();
        return request.ResponseFormat;
    }

    private static float Float(string key, object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } e => e.GetSingle(),
        IConvertible c when IsNumber(c) => c.ToSingle(CultureInfo.InvariantCulture),
        _ => throw Wrong(key, value, "a number"),
    };

    private static int Int(string key, object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetInt32(out int i) => i,
        JsonElement { ValueKind: JsonValueKind.String } e when int.TryParse(e.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i) => i,
        string s when int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i) => i,
        int i => i,
        long or short or byte or sbyte or ushort or uint => Convert.ToInt32(value, CultureInfo.InvariantCulture),
        _ => throw Wrong(key, value, "an integer"),
    };

    private static bool Bool(string key, object? value) => value switch
    {
        bool b => b,
        JsonElement { ValueKind: JsonValueKind.True } => true,
        JsonElement { ValueKind: JsonValueKind.False } => false,
        _ => throw Wrong(key, value, "a boolean"),
    };

    private static string String(string key, object? value) => value switch
    {
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        _ => throw Wrong(key, value, "a string"),
    };

    private static List<object?> Items(string key, object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(x => (object?)x).ToList(),
        string => throw Wrong(key, value, "a sequence"),
        IEnumerable items => items.Cast<object?>().ToList(),
        _ => throw Wrong(key, value, "a sequence"),
    };

    private static List<(object? Key, object? Value)> Pairs(string key, object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Object } e => e.EnumerateObject().Select(p => ((object?)p.Name, (object?)p.Value)).ToList(),
        IDictionary d => Entries(d),
        _ => throw Wrong(key, value, "a dictionary of token id to bias"),
    };

    // IDictionary's own enumerator yields DictionaryEntry; the generic one a Dictionary<,> also has yields KeyValuePair.
    private static List<(object? Key, object? Value)> Entries(IDictionary dictionary)
    {
        var entries = new List<(object? Key, object? Value)>(dictionary.Count);
        IDictionaryEnumerator e = dictionary.GetEnumerator();
        while (e.MoveNext())
        {
            entries.Add((e.Key, e.Value));
        }

        return entries;
    }

    private static bool IsNumber(IConvertible c) => c.GetTypeCode() is >= TypeCode.SByte and <= TypeCode.Decimal;

    private static ArgumentException Wrong(string key, object? value, string expected) =>
        new($"ChatOptions.AdditionalProperties['{key}'] must be {expected}, not {(value is null ? "null" : value.GetType().Name)}.");
}

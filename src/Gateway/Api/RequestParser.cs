using System.Globalization;
using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Api;

/// <summary>
/// Parses and validates OpenAI request bodies strictly: wrong JSON types, out-of-range values, NaN/Infinity
/// and lone surrogates are 400s naming the parameter, never 500s. Ranges follow vLLM. Nothing is accepted and
/// ignored: which fields an endpoint takes is decided in <see cref="RequestFields"/> (unknown fields and features this
/// server lacks are refused by name), and duplicate keys are refused rather than letting the last one win.
/// </summary>
public static class RequestParser
{
    private const int MaxEndUserLength = 256;

    public static InferenceRequest ParseCompletion(ReadOnlyMemory<byte> body, ApiLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        using JsonDocument doc = Parse(body);
        JsonElement root = doc.RootElement;
        RequestFields.Check(root, ApiKind.Completion);
        var prompts = ParsePrompts(root, limits);
        var common = ParseCommon(root, limits, ApiKind.Completion);
        int? logprobs = null;
        if (Get(root, "logprobs") is { } lp)
        {
            logprobs = Int(lp, "logprobs", 0, limits.MaxLogprobs);
        }

        bool echo = Bool(root, "echo") ?? false;
        return common with { Prompts = prompts, Logprobs = logprobs, Echo = echo };
    }

    public static InferenceRequest ParseChat(ReadOnlyMemory<byte> body, ApiLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        using JsonDocument doc = Parse(body);
        JsonElement root = doc.RootElement;
        RequestFields.Check(root, ApiKind.Chat);
        var messages = ParseMessages(root);
        var common = ParseCommon(root, limits, ApiKind.Chat);
        bool logprobs = Bool(root, "logprobs") ?? false;
        int? top = null;
        if (Get(root, "top_logprobs") is { } t)
        {
            top = Int(t, "top_logprobs", 0, limits.MaxLogprobs);
            if (!logprobs && top > 0)
            {
                throw ApiException.Invalid("top_logprobs", "top_logprobs requires logprobs to be true.");
            }
        }

        bool addGenerationPrompt = Bool(root, "add_generation_prompt") ?? true;
        ToolChoices tools = ToolChoices.Parse(root);
        if (tools.Grammar is not null && common.Grammar is not null)
        {
            throw ApiException.Invalid("tool_choice", $"tool_choice '{tools.ModeName}' constrains the output itself; it cannot be combined with response_format or structured_outputs.");
        }

        if (tools.Mode is ToolMode.Required or ToolMode.Named && common.N > 1)
        {
            throw ApiException.Invalid("n", $"n > 1 is not supported with tool_choice '{tools.ModeName}'.");
        }

        return common with
        {
            Messages = messages,
            Logprobs = logprobs ? top ?? 0 : null,
            AddGenerationPrompt = addGenerationPrompt,
            Tools = tools.Definitions,
            ToolMode = tools.Mode,
            ToolName = tools.Name,
            Grammar = tools.Grammar ?? common.Grammar,
        };
    }

    /// <summary>
    /// vLLM's /tokenize body: a prompt (<c>model</c>, <c>prompt</c>, <c>add_special_tokens</c>) or a conversation
    /// (<c>model</c>, <c>messages</c>, <c>add_generation_prompt</c>) rendered with the model's chat template.
    /// </summary>
    public static TokenizeInput ParseTokenize(ReadOnlyMemory<byte> body)
    {
        using JsonDocument doc = Parse(body);
        JsonElement root = doc.RootElement;
        bool chat = Get(root, "messages") is not null;
        foreach (JsonProperty p in root.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            switch (p.Name)
            {
                case "model" or "messages":
                case "prompt" or "add_special_tokens" when !chat:
                case "add_generation_prompt" when chat:
                    break;
                case "add_special_tokens" when p.Value.ValueKind == JsonValueKind.False:
                    break; // with messages the chat template places the special tokens: false is what happens
                case "add_special_tokens":
                    throw ApiException.Invalid(p.Name, "with messages the chat template adds the special tokens; only add_special_tokens false is accepted.", "unsupported_parameter");
                case "prompt":
                    throw ApiException.Invalid(p.Name, "give prompt or messages, not both.");
                case "add_generation_prompt":
                    throw ApiException.Invalid(p.Name, "add_generation_prompt applies to messages; this request has a prompt.");
                default:
                    throw RequestFields.Unrecognized(p.Name);
            }
        }

        string model = RequiredString(root, "model");
        return chat
            ? new TokenizeInput(model, string.Empty, ParseMessages(root), AddSpecialTokens: false, Bool(root, "add_generation_prompt") ?? true)
            : new TokenizeInput(model, RequiredString(root, "prompt"), null, Bool(root, "add_special_tokens") ?? true, AddGenerationPrompt: false);
    }

    /// <summary>400 naming the first non-null field of <paramref name="obj"/> that is not one of <paramref name="names"/>.</summary>
    internal static void OnlyFields(JsonElement obj, params ReadOnlySpan<string> names) => OnlyFieldsUnder(obj, string.Empty, names);

    /// <summary>As <see cref="OnlyFields(JsonElement, ReadOnlySpan{string})"/>, naming the field under <paramref name="prefix"/> (e.g. "messages[0].content[1].").</summary>
    internal static void OnlyFieldsUnder(JsonElement obj, string prefix, params ReadOnlySpan<string> names)
    {
        foreach (JsonProperty p in obj.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Null && !names.Contains(p.Name))
            {
                throw RequestFields.Unrecognized(prefix + p.Name);
            }
        }
    }

    /// <summary>Parses a body, turning every JSON error (syntax, NaN, bad escapes, depth) into a 400.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument doc;
        try
        {
            // Duplicate keys are refused: with them one of the values would be silently ignored.
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            throw ApiException.Invalid(null, $"We could not parse the JSON body of your request: {ex.Message}", "invalid_json");
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiException.Invalid(null, "The request body must be a JSON object.", "invalid_json");
        }

        return doc;
    }

    private static InferenceRequest ParseCommon(JsonElement root, ApiLimits limits, ApiKind kind)
    {
        string model = Get(root, "model") is { } m ? Str(m, "model") : throw ApiException.Missing("model");
        if (model.Length == 0)
        {
            throw ApiException.Invalid("model", "model must not be empty.");
        }

        int? maxTokens = null;
        if (Get(root, "max_tokens") is { } mt)
        {
            maxTokens = Int(mt, "max_tokens", 1, int.MaxValue);
        }

        if (Get(root, "max_completion_tokens") is { } mct)
        {
            int completion = Int(mct, "max_completion_tokens", 1, int.MaxValue);
            if (maxTokens is int legacy && legacy != completion)
            {
                throw ApiException.Invalid("max_completion_tokens", $"max_tokens ({legacy}) and max_completion_tokens ({completion}) disagree; give one of them.");
            }

            maxTokens = completion;
        }

        float temperature = Float(root, "temperature", 0f, 2f, closedLow: true) ?? 1f;
        float topP = Float(root, "top_p", 0f, 1f, closedLow: false) ?? 1f;
        int topK = 0;
        if (Get(root, "top_k") is { } tk)
        {
            topK = Int(tk, "top_k", -1, int.MaxValue);
            if (topK == -1)
            {
                topK = 0;
            }
        }

        float minP = Float(root, "min_p", 0f, 1f, closedLow: true) ?? 0f;
        float presence = Float(root, "presence_penalty", -2f, 2f, closedLow: true) ?? 0f;
        float frequency = Float(root, "frequency_penalty", -2f, 2f, closedLow: true) ?? 0f;
        float repetition = Float(root, "repetition_penalty", 0f, float.MaxValue, closedLow: false) ?? 1f;
        int n = Get(root, "n") is { } nn ? Int(nn, "n", 1, limits.MaxN) : 1;
        long? seed = null;
        if (Get(root, "seed") is { } s)
        {
            if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out long sv))
            {
                throw ApiException.WrongType("seed", "an integer");
            }

            seed = sv;
        }

        var stop = ParseStop(root, limits);
        var stopIds = ParseIntList(root, "stop_token_ids", limits.MaxStopTokenIds);
        int minTokens = Get(root, "min_tokens") is { } mn ? Int(mn, "min_tokens", 0, int.MaxValue) : 0;
        if (maxTokens is int max && minTokens > max)
        {
            throw ApiException.Invalid("min_tokens", $"min_tokens ({minTokens}) must be <= max_tokens ({max}).");
        }

        int priority = Get(root, "priority") is { } p ? Int(p, "priority", int.MinValue, int.MaxValue) : 0;
        bool stream = Bool(root, "stream") ?? false;
        bool includeUsage = false;
        if (Get(root, "stream_options") is { } so)
        {
            if (so.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType("stream_options", "an object");
            }

            if (!stream)
            {
                throw ApiException.Invalid("stream_options", "stream_options is only allowed when stream is true.");
            }

            includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
            CheckStreamOptions(so);
        }

        bool returnTimings = Bool(root, "return_timings") ?? false;
        if (returnTimings && stream && !includeUsage)
        {
            throw ApiException.Invalid("return_timings", "a stream carries its timings in the usage chunk: set stream_options.include_usage to true with return_timings.");
        }

        string? user = EndUser(root);
        bool skipSpecial = Bool(root, "skip_special_tokens") ?? true;
        return new InferenceRequest
        {
            Kind = kind,
            Model = model,
            MaxTokens = maxTokens,
            Temperature = temperature,
            TopP = topP,
            TopK = topK,
            MinP = minP,
            PresencePenalty = presence,
            FrequencyPenalty = frequency,
            RepetitionPenalty = repetition,
            LogitBias = ParseLogitBias(root, limits),
            Seed = seed,
            N = n,
            Stop = stop,
            StopTokenIds = stopIds,
            IgnoreEos = Bool(root, "ignore_eos") ?? false,
            MinTokens = minTokens,
            Priority = priority,
            Stream = stream,
            IncludeUsage = includeUsage,
            ReturnTimings = returnTimings,
            User = user,
            SkipSpecialTokens = skipSpecial,
            Grammar = StructuredOutputs.Parse(root),
        };
    }

    private static void CheckStreamOptions(JsonElement options)
    {
        foreach (JsonProperty p in options.EnumerateObject())
        {
            string param = $"stream_options.{p.Name}";
            switch (p.Name)
            {
                case "include_usage":
                    break;
                case "include_obfuscation" or "continuous_usage_stats":
                    // Chunks carry no obfuscation padding and usage comes once, in the include_usage chunk.
                    if (p.Value.ValueKind is not (JsonValueKind.False or JsonValueKind.Null))
                    {
                        throw ApiException.Invalid(param, $"'{param}' is not supported by this server; only false is accepted.", "unsupported_parameter");
                    }

                    break;
                default:
                    if (p.Value.ValueKind != JsonValueKind.Null)
                    {
                        throw RequestFields.Unrecognized(param);
                    }

                    break;
            }
        }
    }

    // OpenAI's end-user id: safety_identifier, or user (its older name). Recorded in the usage record.
    private static string? EndUser(JsonElement root)
    {
        string? user = Get(root, "user") is { } u ? Str(u, "user") : null;
        string? safety = Get(root, "safety_identifier") is { } si ? Str(si, "safety_identifier") : null;
        if (user is not null && safety is not null && user != safety)
        {
            throw ApiException.Invalid("safety_identifier", "user and safety_identifier name different end users; give one of them.");
        }

        string? endUser = safety ?? user;
        if (endUser is { Length: > MaxEndUserLength })
        {
            string param = safety is not null ? "safety_identifier" : "user";
            throw ApiException.Invalid(param, $"{param} must be at most {MaxEndUserLength} characters, got {endUser.Length}.");
        }

        return endUser;
    }

    private static List<PromptInput> ParsePrompts(JsonElement root, ApiLimits limits)
    {
        JsonElement prompt = Get(root, "prompt") ?? throw ApiException.Missing("prompt");
        var prompts = new List<PromptInput>();
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                prompts.Add(new PromptInput(Str(prompt, "prompt"), null));
                break;
            case JsonValueKind.Array when prompt.GetArrayLength() == 0:
                throw ApiException.Invalid("prompt", "prompt must not be an empty list.");
            case JsonValueKind.Array when prompt[0].ValueKind == JsonValueKind.Number:
                prompts.Add(new PromptInput(null, TokenList(prompt, "prompt")));
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (JsonElement item in prompt.EnumerateArray())
                {
                    string param = $"prompt[{i++}]";
                    prompts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => new PromptInput(Str(item, param), null),
                        JsonValueKind.Array => new PromptInput(null, TokenList(item, param)),
                        _ => throw ApiException.WrongType(param, "a string or a list of token ids"),
                    });
                }

                break;
            default:
                throw ApiException.WrongType("prompt", "a string, a list of strings, a list of token ids or a list of lists of token ids");
        }

        if (prompts.Count > limits.MaxPrompts)
        {
            throw ApiException.Invalid("prompt", $"at most {limits.MaxPrompts} prompts per request, got {prompts.Count}.");
        }

        foreach (PromptInput p in prompts)
        {
            if (p.Text is { Length: 0 } || p.TokenIds is { Count: 0 })
            {
                throw ApiException.Invalid("prompt", "prompt must not be empty.");
            }
        }

        return prompts;
    }

    private static List<int> TokenList(JsonElement array, string param)
    {
        var ids = new List<int>(array.GetArrayLength());
        foreach (JsonElement e in array.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id))
            {
                throw ApiException.WrongType(param, "a list of integer token ids");
            }

            if (id < 0)
            {
                throw ApiException.Invalid(param, $"token id {id} is negative.", "invalid_token_id");
            }

            ids.Add(id);
        }

        return ids;
    }

    private static List<ChatMessage> ParseMessages(JsonElement root)
    {
        JsonElement messages = Get(root, "messages") ?? throw ApiException.Missing("messages");
        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType("messages", "an array of messages");
        }

        if (messages.GetArrayLength() == 0)
        {
            throw ApiException.Invalid("messages", "messages must contain at least one message.");
        }

        var result = new List<ChatMessage>(messages.GetArrayLength());
        int i = 0;
        foreach (JsonElement m in messages.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType(at, "an object");
            }

            string role = Get(m, "role") is { } r ? Str(r, $"{at}.role") : throw ApiException.Missing($"{at}.role");
            role = role switch
            {
                "system" or "user" or "assistant" or "tool" => role,
                "developer" => "system",
                "function" => throw ApiException.Invalid($"{at}.role", "role 'function' (the deprecated function calling) is not supported; use tools and role 'tool'.", "unsupported_parameter"),
                _ => throw ApiException.Invalid($"{at}.role", $"'{role}' is not one of 'system', 'developer', 'user', 'assistant', 'tool'."),
            };
            CheckMessageFields(m, at, role);

            List<ChatToolCall>? calls = role == "assistant" ? ToolChoices.ParseCalls(m, at) : null;
            string content = Get(m, "content") is { } c ? Content(c, $"{at}.content") : role == "assistant" ? string.Empty : throw ApiException.Missing($"{at}.content");
            string? toolCallId = null;
            if (role == "tool")
            {
                toolCallId = Get(m, "tool_call_id") is { } id ? Str(id, $"{at}.tool_call_id") : throw ApiException.Missing($"{at}.tool_call_id");
            }

            string? name = Get(m, "name") is { } n ? Str(n, $"{at}.name") : null;
            result.Add(new ChatMessage(role, content, calls, toolCallId, name));
        }

        return result;
    }

    // A message's fields: role, content, name, an assistant's tool_calls and a tool turn's tool_call_id are honoured
    // (the chat template sees them); the rest would be ignored by it, so they are refused unless empty (what a client
    // echoing an assistant message back sends).
    private static void CheckMessageFields(JsonElement message, string at, string role)
    {
        foreach (JsonProperty p in message.EnumerateObject())
        {
            string param = $"{at}.{p.Name}";
            switch (p.Name)
            {
                case "role" or "content" or "name":
                    break;
                case "tool_calls" when role == "assistant":
                    break;
                case "tool_call_id" when role == "tool":
                    break;
                case "tool_calls" or "annotations":
                    if (p.Value.ValueKind is not JsonValueKind.Null && !(p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 0))
                    {
                        throw ApiException.Invalid(param, $"'{param}' is not supported on this message; only [] is accepted.", "unsupported_parameter");
                    }

                    break;
                case "refusal" or "function_call" or "tool_call_id" or "audio":
                    if (p.Value.ValueKind != JsonValueKind.Null)
                    {
                        throw ApiException.Invalid(param, $"'{param}' is not supported by this server.", "unsupported_parameter");
                    }

                    break;
                default:
                    if (p.Value.ValueKind != JsonValueKind.Null)
                    {
                        throw RequestFields.Unrecognized(param);
                    }

                    break;
            }
        }
    }

    private static string Content(JsonElement c, string param)
    {
        if (c.ValueKind == JsonValueKind.String)
        {
            return Str(c, param);
        }

        if (c.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType(param, "a string or an array of content parts");
        }

        var text = new System.Text.StringBuilder();
        int i = 0;
        foreach (JsonElement part in c.EnumerateArray())
        {
            string at = $"{param}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType(at, "an object");
            }

            string type = Get(part, "type") is { } t ? Str(t, $"{at}.type") : throw ApiException.Missing($"{at}.type");
            if (type != "text")
            {
                throw ApiException.Invalid($"{at}.type", $"content part type '{type}' is not supported by this model; only 'text'.", "unsupported_parameter");
            }

            OnlyFieldsUnder(part, $"{at}.", "type", "text");

            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(Get(part, "text") is { } tx ? Str(tx, $"{at}.text") : throw ApiException.Missing($"{at}.text"));
        }

        return text.ToString();
    }

    private static List<string> ParseStop(JsonElement root, ApiLimits limits)
    {
        var stops = new List<string>();
        if (Get(root, "stop") is not { } stop)
        {
            return stops;
        }

        if (stop.ValueKind == JsonValueKind.String)
        {
            stops.Add(Str(stop, "stop"));
        }
        else if (stop.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement s in stop.EnumerateArray())
            {
                if (s.ValueKind != JsonValueKind.String)
                {
                    throw ApiException.WrongType("stop", "a string or a list of strings");
                }

                stops.Add(Str(s, "stop"));
            }
        }
        else
        {
            throw ApiException.WrongType("stop", "a string or a list of strings");
        }

        if (stops.Count > limits.MaxStopSequences)
        {
            throw ApiException.Invalid("stop", $"at most {limits.MaxStopSequences} stop sequences, got {stops.Count}.");
        }

        foreach (string s in stops)
        {
            if (s.Length == 0)
            {
                throw ApiException.Invalid("stop", "stop sequences must not be empty.");
            }

            if (s.Length > limits.MaxStopLength)
            {
                throw ApiException.Invalid("stop", $"stop sequences must be at most {limits.MaxStopLength} characters, got {s.Length}.");
            }
        }

        return stops;
    }

    private static List<int> ParseIntList(JsonElement root, string name, int max)
    {
        var list = new List<int>();
        if (Get(root, name) is not { } e)
        {
            return list;
        }

        if (e.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType(name, "a list of integers");
        }

        foreach (JsonElement x in e.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt32(out int v) || v < 0)
            {
                throw ApiException.WrongType(name, "a list of non-negative integer token ids");
            }

            list.Add(v);
        }

        if (list.Count > max)
        {
            throw ApiException.Invalid(name, $"at most {max} entries, got {list.Count}.");
        }

        return list;
    }

    private static Dictionary<int, float>? ParseLogitBias(JsonElement root, ApiLimits limits)
    {
        if (Get(root, "logit_bias") is not { } bias)
        {
            return null;
        }

        if (bias.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType("logit_bias", "an object mapping token ids to numbers");
        }

        var result = new Dictionary<int, float>();
        foreach (JsonProperty p in bias.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                throw ApiException.Invalid("logit_bias", $"logit_bias keys must be token ids (non-negative integers), got '{p.Name}'.");
            }

            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out double v))
            {
                throw ApiException.WrongType("logit_bias", "an object mapping token ids to numbers");
            }

            if (v is < -100 or > 100)
            {
                throw ApiException.Invalid("logit_bias", $"logit_bias values must be in [-100, 100], got {v.ToString(CultureInfo.InvariantCulture)} for token {id}.");
            }

            result[id] = (float)v;
        }

        if (result.Count > limits.MaxLogitBias)
        {
            throw ApiException.Invalid("logit_bias", $"at most {limits.MaxLogitBias} logit_bias entries, got {result.Count}.");
        }

        return result.Count == 0 ? null : result;
    }

    /// <summary>A required string property (400 when missing, of another type, or with lone surrogates).</summary>
    internal static string RequiredString(JsonElement obj, string name) =>
        Get(obj, name) is { } e ? Str(e, name) : throw ApiException.Missing(name);

    /// <summary>A property, treating an explicit null as absent (OpenAI clients send nulls for defaults).</summary>
    private static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement e) && e.ValueKind != JsonValueKind.Null ? e : null;

    private static string Str(JsonElement e, string param)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            throw ApiException.WrongType(param, "a string");
        }

        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Lone surrogates in \u escapes: not valid Unicode, so not a string we can tokenize.
            throw ApiException.Invalid(param, $"'{param}' contains invalid Unicode (a lone surrogate).", "invalid_unicode");
        }
    }

    private static bool? Bool(JsonElement obj, string name, string? param = null)
    {
        if (Get(obj, name) is not { } e)
        {
            return null;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.WrongType(param ?? name, "a boolean"),
        };
    }

    /// <summary>A JSON number that is an integer in JSON Schema terms: 2 and 2.0 are, 2.5 is not.</summary>
    internal static bool TryInteger(JsonElement e, out long value)
    {
        value = 0;
        if (e.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        if (e.TryGetInt64(out value))
        {
            return true;
        }

        if (e.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
        {
            value = (long)d;
            return true;
        }

        return false;
    }

    private static int Int(JsonElement e, string param, int min, int max)
    {
        if (e.ValueKind != JsonValueKind.Number)
        {
            throw ApiException.WrongType(param, "an integer");
        }

        if (!TryInteger(e, out long v))
        {
            throw ApiException.WrongType(param, "an integer");
        }

        if (v < min || v > max)
        {
            string range = max == int.MaxValue ? $">= {min}" : $"in [{min}, {max}]";
            throw ApiException.Invalid(param, $"{param} must be {range}, got {v}.");
        }

        return (int)v;
    }

    private static float? Float(JsonElement obj, string name, float min, float max, bool closedLow)
    {
        if (Get(obj, name) is not { } e)
        {
            return null;
        }

        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || !double.IsFinite(v))
        {
            throw ApiException.WrongType(name, "a number");
        }

        bool ok = (closedLow ? v >= min : v > min) && v <= max;
        if (!ok)
        {
            string low = closedLow ? "[" : "(";
            throw ApiException.Invalid(name, $"{name} must be in {low}{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], got {v.ToString(CultureInfo.InvariantCulture)}.");
        }

        return (float)v;
    }
}

using System.Collections.Frozen;
using System.Text.Json;

namespace Inference.Gateway.Api;

/// <summary>
/// Which top-level fields each generation endpoint takes, decided once for HTTP and gRPC (gRPC requests become the
/// same JSON). Nothing is accepted and ignored:
/// <list type="bullet">
/// <item>implemented fields are parsed and validated by <see cref="RequestParser"/>;</item>
/// <item>known fields this server does not implement (OpenAI's and vLLM's) are accepted only with the one value that
/// asks for exactly what the server does anyway (their default: <c>"tools": []</c>, <c>"store": false</c>, ...) and
/// otherwise refused with a 400 naming them (<c>unsupported_parameter</c>);</item>
/// <item>any other field is refused as unrecognized (<c>unknown_parameter</c>), as OpenAI's API does.</item>
/// </list>
/// A null value counts as absent everywhere (OpenAI clients send nulls for defaults).
/// </summary>
public static class RequestFields
{
    private static readonly FrozenDictionary<string, Field> CompletionFields = Build(ApiKind.Completion);
    private static readonly FrozenDictionary<string, Field> ChatFields = Build(ApiKind.Chat);

    /// <summary>How the server treats a field on an endpoint.</summary>
    public enum Support
    {
        /// <summary>Not a field of this endpoint: refused as unrecognized.</summary>
        Unknown,

        /// <summary>Parsed, validated and honoured.</summary>
        Implemented,

        /// <summary>Not implemented: accepted only with its default value, refused otherwise.</summary>
        DefaultOnly,

        /// <summary>Not implemented: refused with any non-null value.</summary>
        Refused,
    }

    /// <summary>Every known field of an endpoint with its support and, for default-only fields, the accepted value.</summary>
    public static IEnumerable<(string Name, Support Support, string? AcceptedValue)> Known(ApiKind kind) =>
        (kind == ApiKind.Chat ? ChatFields : CompletionFields).Values
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => (f.Name, f.Support, f.AcceptedValue));

    /// <summary>How <paramref name="name"/> is treated on <paramref name="kind"/>'s endpoint.</summary>
    public static Support SupportOf(ApiKind kind, string name) =>
        (kind == ApiKind.Chat ? ChatFields : CompletionFields).TryGetValue(name, out Field? f) ? f.Support : Support.Unknown;

    /// <summary>400 naming the first field that is unknown, or not implemented and not at its default.</summary>
    public static void Check(JsonElement root, ApiKind kind)
    {
        FrozenDictionary<string, Field> fields = kind == ApiKind.Chat ? ChatFields : CompletionFields;
        foreach (JsonProperty p in root.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (!fields.TryGetValue(p.Name, out Field? field))
            {
                throw Unrecognized(p.Name);
            }

            if (field.Support == Support.Implemented || (field.Support == Support.DefaultOnly && field.IsDefault!(p.Value, root)))
            {
                continue;
            }

            throw ApiException.Invalid(
                p.Name,
                field.AcceptedValue is null
                    ? $"'{p.Name}' is not supported by this server."
                    : $"'{p.Name}' is not supported by this server; only {field.AcceptedValue} is accepted.",
                "unsupported_parameter");
        }
    }

    /// <summary>OpenAI's refusal of a field it does not know, naming it.</summary>
    public static ApiException Unrecognized(string param) =>
        ApiException.Invalid(param, $"Unrecognized request argument supplied: {param}", "unknown_parameter");

    private static FrozenDictionary<string, Field> Build(ApiKind kind)
    {
        const ApiKind chat = ApiKind.Chat;
        const ApiKind cmpl = ApiKind.Completion;
        var all = new List<(ApiKind? Only, Field Field)>
        {
            // OpenAI, both endpoints.
            (null, Implemented("model")),
            (null, Implemented("stream")),
            (null, Implemented("stream_options")),
            (null, Implemented("stop")),
            (null, Implemented("max_tokens")),
            (null, Implemented("max_completion_tokens")),
            (null, Implemented("temperature")),
            (null, Implemented("top_p")),
            (null, Implemented("presence_penalty")),
            (null, Implemented("frequency_penalty")),
            (null, Implemented("logit_bias")),
            (null, Implemented("logprobs")),
            (null, Implemented("seed")),
            (null, Implemented("n")),
            (null, Implemented("user")),
            (null, Implemented("safety_identifier")),
            (null, Refused("prompt_cache_key")),
            (null, Implemented("response_format")),

            // OpenAI, completions.
            (cmpl, Implemented("prompt")),
            (cmpl, Implemented("echo")),
            (cmpl, DefaultOnly("suffix", "\"\"", v => IsString(v, string.Empty))),
            (cmpl, DefaultOnly("best_of", "the value of n (every candidate is returned)", (v, root) => N(root) is not long n || (RequestParser.TryInteger(v, out long b) && b == n))),

            // OpenAI, chat.
            (chat, Implemented("messages")),
            (chat, Implemented("top_logprobs")),
            (chat, Implemented("tools")),
            (chat, Implemented("tool_choice")),
            (chat, Implemented("parallel_tool_calls")),
            (chat, DefaultOnly("functions", "[]", IsEmptyArray)),
            (chat, DefaultOnly("function_call", "\"none\"", v => IsString(v, "none"))),
            (chat, DefaultOnly("store", "false", IsFalse)),
            (chat, DefaultOnly("metadata", "{}", IsEmptyObject)),
            (chat, DefaultOnly("modalities", """["text"]""", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 1 && IsString(v[0], "text"))),
            (chat, DefaultOnly("service_tier", "\"auto\" or \"default\"", v => IsString(v, "auto") || IsString(v, "default"))),
            (chat, Refused("audio")),
            (chat, Refused("prediction")),
            (chat, Refused("reasoning_effort")),
            (chat, Refused("verbosity")),
            (chat, Refused("web_search_options")),

            // vLLM's sampling and output extensions, both endpoints.
            (null, Implemented("top_k")),
            (null, Implemented("min_p")),
            (null, Implemented("repetition_penalty")),
            (null, Implemented("ignore_eos")),
            (null, Implemented("min_tokens")),
            (null, Implemented("stop_token_ids")),
            (null, Implemented("skip_special_tokens")),
            (null, Implemented("priority")),
            (null, DefaultOnly("include_stop_str_in_output", "false", IsFalse)),
            (null, DefaultOnly("use_beam_search", "false", IsFalse)),
            (null, Refused("spaces_between_special_tokens")),
            (null, Refused("length_penalty")),
            (null, Refused("prompt_logprobs")),
            (null, Refused("truncate_prompt_tokens")),
            (null, Refused("allowed_token_ids")),
            (null, Refused("bad_words")),
            (null, Refused("logits_processors")),
            (null, Implemented("structured_outputs")),
            (null, Implemented("guided_json")),
            (null, Implemented("guided_regex")),
            (null, Implemented("guided_choice")),
            (null, Implemented("guided_grammar")),
            (null, Refused("guided_decoding_backend")),
            (null, Refused("guided_whitespace_pattern")),
            (null, Refused("return_tokens_as_token_ids")),
            (null, Refused("return_token_ids")),
            (null, Refused("request_id")),
            (null, Refused("cache_salt")),
            (null, Refused("kv_transfer_params")),
            (null, Refused("vllm_xargs")),
            (null, Refused("mm_processor_kwargs")),

            // This server's own: per-request timings in the response.
            (null, Implemented("return_timings")),

            // vLLM, completions: the prompt is tokenized with special tokens (BOS).
            (cmpl, DefaultOnly("add_special_tokens", "true", v => v.ValueKind == JsonValueKind.True)),
            (cmpl, Refused("prompt_embeds")),

            // vLLM, chat: the conversation goes through the model's own template, which adds its special tokens.
            (chat, Implemented("add_generation_prompt")),
            (chat, DefaultOnly("add_special_tokens", "false", IsFalse)),
            (chat, DefaultOnly("continue_final_message", "false", IsFalse)),
            (chat, DefaultOnly("echo", "false", IsFalse)),
            (chat, DefaultOnly("chat_template_kwargs", "{}", IsEmptyObject)),
            (chat, Refused("chat_template")),
            (chat, Refused("documents")),
        };

        return all.Where(e => e.Only is null || e.Only == kind).ToFrozenDictionary(e => e.Field.Name, e => e.Field, StringComparer.Ordinal);
    }

    private static Field Implemented(string name) => new(name, Support.Implemented, null, null);

    private static Field DefaultOnly(string name, string accepted, Func<JsonElement, bool> isDefault) => new(name, Support.DefaultOnly, accepted, (v, _) => isDefault(v));

    private static Field DefaultOnly(string name, string accepted, Func<JsonElement, JsonElement, bool> isDefault) => new(name, Support.DefaultOnly, accepted, isDefault);

    // n as the request gives it (1 when absent or null); null when n is not an integer, which the parser then
    // refuses under its own name (best_of is not blamed for it).
    private static long? N(JsonElement root)
    {
        if (!root.TryGetProperty("n", out JsonElement n) || n.ValueKind == JsonValueKind.Null)
        {
            return 1;
        }

        return RequestParser.TryInteger(n, out long v) ? v : null;
    }

    private static Field Refused(string name) => new(name, Support.Refused, null, null);

    private static bool IsFalse(JsonElement v) => v.ValueKind == JsonValueKind.False;

    private static bool IsEmptyArray(JsonElement v) => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0;

    private static bool IsEmptyObject(JsonElement v) => v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any();

    private static bool IsString(JsonElement v, string value) => v.ValueKind == JsonValueKind.String && v.ValueEquals(value);

    // IsDefault(value, request): whether a not-implemented field asks for exactly what the server does anyway.
    private sealed record Field(string Name, Support Support, string? AcceptedValue, Func<JsonElement, JsonElement, bool>? IsDefault);
}

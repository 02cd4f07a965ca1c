using System.Collections;
using System.Text.Json;
using Inference.Worker.Loading;
using Inference.Worker.Tokenization.Jinja;

namespace Inference.Worker.Tokenization;

/// <summary>
/// A model's chat template: the Jinja text from tokenizer_config.json (or chat_template.jinja), run by our Jinja
/// interpreter exactly as transformers' apply_chat_template runs it (jinja2 3.1, ImmutableSandboxedEnvironment with
/// trim_blocks and lstrip_blocks, transformers' tojson, raise_exception and strftime_now). Any template text renders;
/// <see cref="Name"/> only records the family recognised from the text, which later picks a tool-call output parser.
/// Goldens rendered by jinja2 from real Hugging Face template texts are in
/// tests/Worker.Tests/TestData/tokenizers/chat-templates.
/// </summary>
/// <remarks>
/// What the template sees, as transformers and vLLM pass it: <c>messages</c> (dicts with role and content, plus
/// tool_calls, tool_call_id and name only where the message has them), <c>tools</c> (the OpenAI list
/// <c>[{"type": "function", "function": {name, description, parameters}}]</c>, or none when no tools are given),
/// <c>documents</c> (none), <c>add_generation_prompt</c>, <c>bos_token</c> and <c>eos_token</c> (left undefined when
/// the tokenizer has none), and any extra variables (chat_template_kwargs such as enable_thinking). A tool call is
/// <c>{"id", "type": "function", "function": {"name", "arguments"}}</c> with arguments parsed from its JSON text into
/// a mapping, as vLLM does before rendering (empty text becomes {}), so templates may write
/// <c>arguments | tojson</c> or iterate <c>arguments | items</c>.
/// </remarks>
public sealed class ChatTemplate
{
    private const string ChatTemplateField = "chat_template";

    /// <summary>Llama 2's chat_template text as Meta's tokenizer_config.json has it (recognized as the llama2 family; the bundled model uses it).</summary>
    public const string Llama2Text =
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
        + "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
        + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        + "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        + "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        + "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    private static readonly string[] ReservedVariables = ["messages", "tools", "documents", "add_generation_prompt"];

    private readonly JinjaTemplate _template;
    private readonly string? _bosToken;
    private readonly string? _eosToken;
    private readonly TimeProvider _timeProvider;

    private ChatTemplate(JinjaTemplate template, string name, string? bosToken, string? eosToken, TimeProvider timeProvider)
    {
        _template = template;
        Name = name;
        _bosToken = bosToken;
        _eosToken = eosToken;
        _timeProvider = timeProvider;
    }

    /// <summary>
    /// The family recognised from the template text: "llama2", "llama3", "llama3.1" (3.1-3.3, JSON tool calls),
    /// "chatml", "hermes" (ChatML with &lt;tool_call&gt;, e.g. Qwen2.5), "qwen3" (hermes tool calls plus &lt;think&gt;),
    /// "mistral" ([INST], [TOOL_CALLS]), "zephyr", "phi3", "gemma"; "jinja" for any other template text.
    /// </summary>
    public string Name { get; }

    /// <summary>
    /// Parses the template. <paramref name="explicitName"/> (llama2, llama3, llama3.1, chatml, mistral, zephyr and their
    /// aliases) picks a built-in template text and wins over <paramref name="chatTemplateText"/>; otherwise the text is
    /// used and its family recognised. Text that is not valid Jinja (or uses an unsupported construct) throws
    /// <see cref="ModelLoadException"/> naming <paramref name="sourceFile"/>, chat_template and the line.
    /// <paramref name="timeProvider"/> answers strftime_now (in UTC).
    /// </summary>
    public static ChatTemplate Resolve(
        string? chatTemplateText, string? explicitName, string sourceFile, string? bosToken, string? eosToken, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sourceFile);
        string name;
        string text;
        if (explicitName is not null)
        {
            name = CanonicalName(explicitName)
                ?? throw new ArgumentException($"unknown chat template name '{explicitName}'; expected llama2, llama3, llama3.1, chatml, mistral or zephyr", nameof(explicitName));
            text = BuiltInText(name);
            var (defaultBos, defaultEos) = name switch
            {
                "llama3" or "llama3.1" => ("<|begin_of_text|>", "<|eot_id|>"),
                "chatml" => (null, "<|im_end|>"),
                _ => ("<s>", "</s>"),
            };
            bosToken ??= defaultBos;
            eosToken ??= defaultEos;
        }
        else if (chatTemplateText is null)
        {
            throw new ModelLoadException(sourceFile, ChatTemplateField, "no chat template declared; pass an explicit template name (llama2, llama3, llama3.1, chatml, mistral, zephyr)");
        }
        else
        {
            text = chatTemplateText;
            name = Detect(text);
        }

        JinjaTemplate template;
        try
        {
            template = JinjaTemplate.Parse(text);
        }
        catch (JinjaException ex)
        {
            throw new ModelLoadException(sourceFile, ChatTemplateField, ex.Message, ex);
        }

        return new ChatTemplate(template, name, bosToken, eosToken, timeProvider ?? TimeProvider.System);
    }

    /// <summary>Renders the conversation without tools; see the other overload.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) => Render(messages, addGenerationPrompt, null);

    /// <summary>
    /// Renders the conversation as the model's template does. The text already includes BOS where the template writes
    /// it, so encode it with addSpecialTokens: false. <paramref name="addGenerationPrompt"/> asks the template for the
    /// assistant header. <paramref name="extraVariables"/> are further template variables (chat_template_kwargs such as
    /// enable_thinking, or date_string); values may be null, bool, integers, floating point, strings, JsonElement,
    /// dictionaries with string keys and sequences. Throws <see cref="ArgumentException"/> for a malformed request
    /// (no messages, a role other than system/user/assistant/tool, tool-call arguments that are not JSON) and wherever
    /// rendering fails: the template's own raise_exception (e.g. roles that do not alternate), an error in the template
    /// for this input (message naming the template line), or output beyond the interpreter's limits.
    /// </summary>
    public string Render(
        IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools, IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("a conversation needs at least one message", nameof(messages));
        }

        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (_bosToken is not null)
        {
            variables["bos_token"] = _bosToken;
        }

        if (_eosToken is not null)
        {
            variables["eos_token"] = _eosToken;
        }

        if (extraVariables is not null)
        {
            foreach (var (key, value) in extraVariables)
            {
                if (Array.IndexOf(ReservedVariables, key) >= 0)
                {
                    throw new ArgumentException($"template variable '{key}' is set by the server and cannot be passed", nameof(extraVariables));
                }

                variables[key] = ToTemplateValue(value, key);
            }
        }

        variables["messages"] = MessagesValue(messages);
        variables["tools"] = tools is null ? null : ToolsValue(tools);
        variables["documents"] = null;
        variables["add_generation_prompt"] = addGenerationPrompt;
        try
        {
            return _template.Render(variables, _timeProvider);
        }
        catch (JinjaException ex)
        {
            throw new ArgumentException(ex.Message, nameof(messages), ex);
        }
    }

    internal static bool IsKnownName(string name) => CanonicalName(name) is not null;

    private static string? CanonicalName(string name) => name.ToLowerInvariant() switch
    {
        "llama2" or "llama-2" => "llama2",
        "llama3" or "llama-3" => "llama3",
        "llama3.1" or "llama-3.1" or "llama3.2" or "llama-3.2" => "llama3.1",
        "chatml" or "qwen2" => "chatml",
        "mistral" => "mistral",
        "zephyr" or "tinyllama" => "zephyr",
        _ => null,
    };

    private static string BuiltInText(string name)
    {
        if (name == "llama2")
        {
            return Llama2Text;
        }

        using var stream = typeof(ChatTemplate).Assembly.GetManifestResourceStream($"ChatTemplates/{name}.jinja")
            ?? throw new InvalidOperationException($"built-in chat template '{name}' is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string Detect(string text)
    {
        bool Has(string marker) => text.Contains(marker, StringComparison.Ordinal);
        if (Has("<|im_start|>"))
        {
            if (Has("<tool_call>"))
            {
                return Has("<think>") ? "qwen3" : "hermes";
            }

            return "chatml";
        }

        if (Has("<|start_header_id|>"))
        {
            return Has("Cutting Knowledge Date") ? "llama3.1" : "llama3";
        }

        if (Has("[INST]"))
        {
            return Has("<<SYS>>") ? "llama2" : "mistral";
        }

        if (Has("<start_of_turn>"))
        {
            return "gemma";
        }

        if (Has("<|user|>") && Has("<|assistant|>"))
        {
            // Phi-3 closes turns with <|end|>; Zephyr (TinyLlama-Chat) with eos_token.
            if (Has("<|end|>"))
            {
                return "phi3";
            }

            if (Has("eos_token"))
            {
                return "zephyr";
            }
        }

        return "jinja";
    }

    private static List<object?> MessagesValue(IReadOnlyList<ChatMessage> messages)
    {
        var result = new List<object?>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            if (message.Role is not ("system" or "user" or "assistant" or "tool"))
            {
                throw new ArgumentException($"message {i} has role '{message.Role}'; only system, user, assistant and tool are supported", nameof(messages));
            }

            if (message.Content is null)
            {
                throw new ArgumentException($"message {i} has no content", nameof(messages));
            }

            var dict = JinjaValues.NewDict();
            dict["role"] = message.Role;
            dict["content"] = message.Content;
            if (message.ToolCalls is not null)
            {
                var calls = new List<object?>(message.ToolCalls.Count);
                foreach (var call in message.ToolCalls)
                {
                    if (call is null)
                    {
                        throw new ArgumentException($"message {i} has a null tool call", nameof(messages));
                    }

                    var function = JinjaValues.NewDict();
                    function["name"] = call.Name;
                    function["arguments"] = string.IsNullOrWhiteSpace(call.Arguments)
                        ? JinjaValues.NewDict()
                        : ParseJson(call.Arguments, $"message {i} tool call '{call.Id}' arguments", nameof(messages));
                    var item = JinjaValues.NewDict();
                    item["id"] = call.Id;
                    item["type"] = "function";
                    item["function"] = function;
                    calls.Add(item);
                }

                dict["tool_calls"] = calls;
            }

            if (message.ToolCallId is not null)
            {
                dict["tool_call_id"] = message.ToolCallId;
            }

            if (message.Name is not null)
            {
                dict["name"] = message.Name;
            }

            result.Add(dict);
        }

        return result;
    }

    private static List<object?> ToolsValue(IReadOnlyList<ChatTool> tools)
    {
        var result = new List<object?>(tools.Count);
        foreach (var tool in tools)
        {
            ArgumentNullException.ThrowIfNull(tool, nameof(tools));
            var function = JinjaValues.NewDict();
            function["name"] = tool.Name;
            if (tool.Description is not null)
            {
                function["description"] = tool.Description;
            }

            if (tool.ParametersJson is not null)
            {
                function["parameters"] = ParseJson(tool.ParametersJson, $"tool '{tool.Name}' parameters", nameof(tools));
            }

            var item = JinjaValues.NewDict();
            item["type"] = "function";
            item["function"] = function;
            result.Add(item);
        }

        return result;
    }

    private static object? ParseJson(string json, string what, string parameter)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return JinjaJson.FromJson(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{what} are not valid JSON: {ex.Message}", parameter, ex);
        }
    }

    private static object? ToTemplateValue(object? value, string name) => value switch
    {
        null or bool or string or long or double => value,
        int or short or byte or sbyte or ushort or uint => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture),
        float f => (double)f,
        decimal m => (double)m,
        JsonElement element => JinjaJson.FromJson(element),
        IEnumerable<KeyValuePair<string, object?>> pairs => DictValue(pairs, name),
        IEnumerable sequence when value is not string => sequence.Cast<object?>().Select(v => ToTemplateValue(v, name)).ToList(),
        _ => throw new ArgumentException($"template variable '{name}' has unsupported type {value.GetType().Name}", nameof(value)),
    };

    private static OrderedDictionary<object, object?> DictValue(IEnumerable<KeyValuePair<string, object?>> pairs, string name)
    {
        var dict = JinjaValues.NewDict();
        foreach (var (key, item) in pairs)
        {
            dict[key] = ToTemplateValue(item, name);
        }

        return dict;
    }
}

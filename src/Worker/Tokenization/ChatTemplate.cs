using System.Text;
using System.Text.RegularExpressions;
using Inference.Worker.Loading;

namespace Inference.Worker.Tokenization;

/// <summary>
/// A model's chat template, recognized by family from the Jinja text in tokenizer_config.json and
/// rendered in C# exactly as that template renders: Llama 2, Llama 3, ChatML (Qwen2), Mistral (the v0.1, v0.2
/// and "v1" template texts, told apart by their text) and Zephyr (TinyLlama-Chat). Goldens rendered by jinja2
/// from the real Hugging Face template texts are in tests/Worker.Tests/TestData/tokenizers/chat-templates.
/// </summary>
public sealed partial class ChatTemplate
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

    // The date Llama 3.1's template falls back to when no date_string is passed (Meta's release date).
    private const string Llama31DefaultDate = "26 Jul 2024";

    private readonly ChatTemplateFamily _family;
    private readonly string _bosToken;
    private readonly string _eosToken;
    private readonly string? _defaultSystemMessage;
    private string _dateString = Llama31DefaultDate;

    private ChatTemplate(ChatTemplateFamily family, string name, string bosToken, string eosToken, string? defaultSystemMessage)
    {
        _family = family;
        Name = name;
        _bosToken = bosToken;
        _eosToken = eosToken;
        _defaultSystemMessage = defaultSystemMessage;
    }

    /// <summary>The family: "llama2", "llama3", "chatml", "mistral" or "zephyr".</summary>
    public string Name { get; }

    /// <summary>
    /// Picks the family: <paramref name="explicitName"/> wins; otherwise it is recognized from the template text.
    /// Unrecognized text throws <see cref="ModelLoadException"/> naming <paramref name="sourceFile"/> and chat_template.
    /// </summary>
    public static ChatTemplate Resolve(
        string? chatTemplateText, string? explicitName, string sourceFile, string? bosToken, string? eosToken, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sourceFile);
        ChatTemplateFamily family;
        if (explicitName is not null)
        {
            family = ParseName(explicitName)
                ?? throw new ArgumentException($"unknown chat template name '{explicitName}'; expected llama2, llama3, chatml, mistral or zephyr", nameof(explicitName));
        }
        else if (chatTemplateText is null)
        {
            throw new ModelLoadException(sourceFile, ChatTemplateField, "no chat template declared; pass an explicit template name (llama2, llama3, chatml, mistral, zephyr)");
        }
        else
        {
            family = Detect(chatTemplateText)
                ?? throw new ModelLoadException(sourceFile, ChatTemplateField, "template is not one of the recognized families (llama2, llama3, chatml, mistral, zephyr); pass an explicit template name");
        }

        var name = family switch
        {
            ChatTemplateFamily.Llama2 => "llama2",
            ChatTemplateFamily.Llama3 => "llama3",
            ChatTemplateFamily.Llama31 => "llama3.1",
            ChatTemplateFamily.ChatMl => "chatml",
            ChatTemplateFamily.Zephyr => "zephyr",
            _ => "mistral",
        };
        var (defaultBos, defaultEos) = family switch
        {
            ChatTemplateFamily.Llama3 or ChatTemplateFamily.Llama31 => ("<|begin_of_text|>", "<|eot_id|>"),
            ChatTemplateFamily.ChatMl => ("", "<|im_end|>"),
            _ => ("<s>", "</s>"),
        };
        var defaultSystem = family == ChatTemplateFamily.ChatMl && chatTemplateText is not null ? FindDefaultSystemMessage(chatTemplateText) : null;
        return new ChatTemplate(family, name, bosToken ?? defaultBos, eosToken ?? defaultEos, defaultSystem)
        {
            // Llama 3.2's template asks for today's date (strftime_now); 3.1's falls back to a fixed one.
            _dateString = family == ChatTemplateFamily.Llama31 && chatTemplateText?.Contains("strftime_now", StringComparison.Ordinal) == true
                ? (timeProvider ?? TimeProvider.System).GetUtcNow().ToString("dd MMM yyyy", System.Globalization.CultureInfo.InvariantCulture)
                : Llama31DefaultDate,
        };
    }

    /// <summary>
    /// Renders the conversation as the model's template does. The rendered text already includes BOS where
    /// the family writes it (Llama 2, Llama 3, Mistral), so encode it with addSpecialTokens: false.
    /// <paramref name="addGenerationPrompt"/> appends the assistant header (Llama 3, ChatML, Zephyr); the [INST]
    /// families need none. Throws <see cref="ArgumentException"/> for unknown roles, and wherever the family's
    /// template raises: roles that do not alternate user/assistant, or a system message for the Mistral
    /// v0.1/v0.2 templates, which support none.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("a conversation needs at least one message", nameof(messages));
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            if (message.Role is not ("system" or "user" or "assistant"))
            {
                throw new ArgumentException($"message {i} has role '{message.Role}'; only system, user and assistant are supported", nameof(messages));
            }

            if (message.Content is null)
            {
                throw new ArgumentException($"message {i} has no content", nameof(messages));
            }
        }

        var builder = new StringBuilder();
        switch (_family)
        {
            case ChatTemplateFamily.Llama2:
                RenderLlama2(messages, builder);
                break;
            case ChatTemplateFamily.Mistral:
                RenderMistral(messages, builder);
                break;
            case ChatTemplateFamily.MistralV01 or ChatTemplateFamily.MistralV02:
                RenderMistralWithoutSystem(messages, builder);
                break;
            case ChatTemplateFamily.MistralV1:
                RenderMistralV1(messages, builder);
                break;
            case ChatTemplateFamily.Zephyr:
                RenderZephyr(messages, addGenerationPrompt, builder);
                break;
            case ChatTemplateFamily.Llama3:
                RenderLlama3(messages, addGenerationPrompt, builder);
                break;
            case ChatTemplateFamily.Llama31:
                RenderLlama31(messages, addGenerationPrompt, builder);
                break;
            default:
                RenderChatMl(messages, addGenerationPrompt, builder);
                break;
        }

        return builder.ToString();
    }

    internal static bool IsKnownName(string name) => ParseName(name) is not null;

    private static ChatTemplateFamily? ParseName(string name) => name.ToLowerInvariant() switch
    {
        "llama2" or "llama-2" => ChatTemplateFamily.Llama2,
        "llama3" or "llama-3" => ChatTemplateFamily.Llama3,
        "llama3.1" or "llama-3.1" or "llama3.2" or "llama-3.2" => ChatTemplateFamily.Llama31,
        "chatml" or "qwen2" => ChatTemplateFamily.ChatMl,
        "mistral" => ChatTemplateFamily.Mistral,
        "zephyr" or "tinyllama" => ChatTemplateFamily.Zephyr,
        _ => null,
    };

    private static ChatTemplateFamily? Detect(string text)
    {
        if (text.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            return ChatTemplateFamily.ChatMl;
        }

        if (text.Contains("<|start_header_id|>", StringComparison.Ordinal))
        {
            return text.Contains("Cutting Knowledge Date", StringComparison.Ordinal) ? ChatTemplateFamily.Llama31 : ChatTemplateFamily.Llama3;
        }

        if (text.Contains("[INST]", StringComparison.Ordinal))
        {
            if (text.Contains("<<SYS>>", StringComparison.Ordinal))
            {
                return ChatTemplateFamily.Llama2;
            }

            // The Mistral template texts differ only in spacing: "v1" writes ' [INST] ' and ' ' before the answer;
            // v0.1 writes a space after EOS; v0.2 (and Mixtral v0.1) neither.
            if (text.Contains("' [INST] '", StringComparison.Ordinal))
            {
                return ChatTemplateFamily.MistralV1;
            }

            return text.Contains("eos_token + ' '", StringComparison.Ordinal) ? ChatTemplateFamily.MistralV01 : ChatTemplateFamily.MistralV02;
        }

        // Zephyr (TinyLlama-Chat): <|user|>/<|assistant|> turns closed by eos_token (Phi-3 closes them with <|end|>).
        if (text.Contains("<|user|>", StringComparison.Ordinal) && text.Contains("<|assistant|>", StringComparison.Ordinal)
            && text.Contains("eos_token", StringComparison.Ordinal) && !text.Contains("<|end|>", StringComparison.Ordinal))
        {
            return ChatTemplateFamily.Zephyr;
        }

        return null;
    }

    /// <summary>Qwen2's template writes a system turn when the conversation has none; take its text from the template.</summary>
    private static string? FindDefaultSystemMessage(string text)
    {
        var match = DefaultSystemRegex().Match(text);
        return match.Success ? match.Groups["content"].Value : null;
    }

    [GeneratedRegex(@"<\|im_start\|>system(?:\n|\\n)(?<content>[^'""{}<]+)<\|im_end\|>")]
    private static partial Regex DefaultSystemRegex();

    /// <summary>
    /// Llama-2-chat: an optional leading system message goes into the first user turn inside &lt;&lt;SYS&gt;&gt;;
    /// each user turn is "BOS[INST] content.strip() [/INST]", each assistant turn " content.strip() EOS".
    /// </summary>
    private void RenderLlama2(IReadOnlyList<ChatMessage> messages, StringBuilder builder)
    {
        var (system, first) = SplitSystem(messages);
        ValidateAlternation(messages, first);
        for (var i = first; i < messages.Count; i++)
        {
            var message = messages[i];
            var content = i == first && system is not null
                ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + message.Content
                : message.Content;
            if (message.Role == "user")
            {
                builder.Append(_bosToken).Append("[INST] ").Append(content.Trim()).Append(" [/INST]");
            }
            else
            {
                builder.Append(' ').Append(content.Trim()).Append(' ').Append(_eosToken);
            }
        }
    }

    /// <summary>
    /// Mistral-Instruct: "BOS[INST] user [/INST]assistantEOS[INST] ..."; an optional leading system message is
    /// prepended to the first user message followed by a blank line.
    /// </summary>
    private void RenderMistral(IReadOnlyList<ChatMessage> messages, StringBuilder builder) =>
        RenderMistralWithSystem(messages, builder, "[INST] ", string.Empty);

    /// <summary>
    /// Mistral-Instruct v0.1 / v0.2 templates: "BOS[INST] user [/INST]assistantEOS" with one space after EOS for
    /// v0.1; content is not stripped, and a system message breaks the alternation check, so it throws as the template raises.
    /// </summary>
    private void RenderMistralWithoutSystem(IReadOnlyList<ChatMessage> messages, StringBuilder builder)
    {
        ValidateAlternation(messages, 0);
        var afterEos = _family == ChatTemplateFamily.MistralV01 ? " " : string.Empty;
        builder.Append(_bosToken);
        foreach (var message in messages)
        {
            if (message.Role == "user")
            {
                builder.Append("[INST] ").Append(message.Content).Append(" [/INST]");
            }
            else
            {
                builder.Append(message.Content).Append(_eosToken).Append(afterEos);
            }
        }
    }

    /// <summary>mistralai's "v1" template: "BOS [INST] system\n\nuser [/INST] assistantEOS [INST] ..."; content is not stripped.</summary>
    private void RenderMistralV1(IReadOnlyList<ChatMessage> messages, StringBuilder builder) =>
        RenderMistralWithSystem(messages, builder, " [INST] ", " ");

    // The system-capable Mistral renderings differ only in the spacing around [INST] and the answer.
    private void RenderMistralWithSystem(IReadOnlyList<ChatMessage> messages, StringBuilder builder, string instOpen, string beforeAnswer)
    {
        var (system, first) = SplitSystem(messages);
        ValidateAlternation(messages, first);
        builder.Append(_bosToken);
        for (var i = first; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == "user")
            {
                builder.Append(instOpen);
                if (i == first && system is not null)
                {
                    builder.Append(system).Append("\n\n");
                }

                builder.Append(message.Content).Append(" [/INST]");
            }
            else
            {
                builder.Append(beforeAnswer).Append(message.Content).Append(_eosToken);
            }
        }
    }

    /// <summary>
    /// Zephyr / TinyLlama-Chat: "&lt;|role|&gt;\ncontentEOS\n" per message (the newline after each "}}" survives
    /// trim_blocks), then "&lt;|assistant|&gt;\n" with <paramref name="addGenerationPrompt"/>. No BOS, no alternation check.
    /// </summary>
    private void RenderZephyr(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder builder)
    {
        foreach (var message in messages)
        {
            builder.Append("<|").Append(message.Role).Append("|>\n").Append(message.Content).Append(_eosToken).Append('\n');
        }

        if (addGenerationPrompt)
        {
            builder.Append("<|assistant|>\n");
        }
    }

    /// <summary>Llama 3: BOS once, then "&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent|trim&lt;|eot_id|&gt;" per message.</summary>
    private void RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder builder)
    {
        builder.Append(_bosToken);
        foreach (var message in messages)
        {
            builder.Append("<|start_header_id|>").Append(message.Role).Append("<|end_header_id|>\n\n")
                .Append(message.Content.Trim()).Append("<|eot_id|>");
        }

        if (addGenerationPrompt)
        {
            builder.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
    }

    /// <summary>
    /// Llama 3.1/3.2 (no tools): BOS, a system turn that always starts with the knowledge cutoff and the date,
    /// followed by the (trimmed) system message if the first message is one, then the Llama 3 turns.
    /// </summary>
    private void RenderLlama31(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder builder)
    {
        var first = 0;
        var system = string.Empty;
        if (messages[0].Role == "system")
        {
            system = messages[0].Content.Trim();
            first = 1;
        }

        builder.Append(_bosToken)
            .Append("<|start_header_id|>system<|end_header_id|>\n\n")
            .Append("Cutting Knowledge Date: December 2023\n")
            .Append("Today Date: ").Append(_dateString).Append("\n\n")
            .Append(system).Append("<|eot_id|>");
        for (var i = first; i < messages.Count; i++)
        {
            builder.Append("<|start_header_id|>").Append(messages[i].Role).Append("<|end_header_id|>\n\n")
                .Append(messages[i].Content.Trim()).Append("<|eot_id|>");
        }

        if (addGenerationPrompt)
        {
            builder.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
    }

    /// <summary>ChatML: "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n"; Qwen2 adds its default system turn when the first message is not one.</summary>
    private void RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder builder)
    {
        if (_defaultSystemMessage is not null && messages[0].Role != "system")
        {
            builder.Append("<|im_start|>system\n").Append(_defaultSystemMessage).Append("<|im_end|>\n");
        }

        foreach (var message in messages)
        {
            builder.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
        }

        if (addGenerationPrompt)
        {
            builder.Append("<|im_start|>assistant\n");
        }
    }

    private static (string? System, int First) SplitSystem(IReadOnlyList<ChatMessage> messages) =>
        messages[0].Role == "system" ? (messages[0].Content, 1) : (null, 0);

    private static void ValidateAlternation(IReadOnlyList<ChatMessage> messages, int first)
    {
        for (var i = first; i < messages.Count; i++)
        {
            var expected = (i - first) % 2 == 0 ? "user" : "assistant";
            if (messages[i].Role != expected)
            {
                throw new ArgumentException(
                    $"after the optional first system message, roles must alternate user/assistant/user/...; message {i} is '{messages[i].Role}', expected '{expected}'",
                    nameof(messages));
            }
        }
    }
}

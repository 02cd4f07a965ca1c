using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

public sealed class Llama31ChatTemplateTests
{
    // Distinctive parts of Meta-Llama-3.1-8B-Instruct's chat_template (tools branches omitted).
    private const string Llama31Text =
        "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n" +
        "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n" +
        "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}";

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void Render_Llama31_MatchesTransformersOutputWithDefaultDate()
    {
        ChatTemplate template = ChatTemplate.Resolve(Llama31Text, null, "tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>");
        Assert.Equal("llama3.1", template.Name);

        // Output of transformers' apply_chat_template for Llama 3.1 with a system prompt (as published in
        // public test vectors): the system turn always carries the cutoff and date lines.
        string rendered = template.Render([new ChatMessage("system", " Be brief. "), new ChatMessage("user", "Hi there")]);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
            "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            rendered);
    }

    [Fact]
    public void Render_Llama31WithoutSystem_StillWritesTheDateHeader()
    {
        ChatTemplate template = ChatTemplate.Resolve(Llama31Text, null, "tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>");
        string rendered = template.Render([new ChatMessage("user", "Hi")], addGenerationPrompt: false);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
            "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
            rendered);
    }

    [Fact]
    public void Render_Llama32StrftimeTemplate_UsesTodaysDate()
    {
        string text = Llama31Text.Replace("{%- if not date_string is defined %}", "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}", StringComparison.Ordinal);
        ChatTemplate template = ChatTemplate.Resolve(text, null, "tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>", new FixedTime(new DateTimeOffset(2026, 11, 3, 12, 0, 0, TimeSpan.Zero)));
        Assert.Contains("Today Date: 03 Nov 2026\n\n", template.Render([new ChatMessage("user", "Hi")]), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_PlainLlama3Template_IsNotMistakenForLlama31()
    {
        ChatTemplate template = ChatTemplate.Resolve("{{ '<|start_header_id|>' + message['role'] }}", null, "tokenizer_config.json", null, null);
        Assert.Equal("llama3", template.Name);
    }
}

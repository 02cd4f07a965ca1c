using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

public sealed class Llama31ChatTemplateTests
{
    // Meta's Llama 3.2 chat_template (TestData/tokenizers/chat-templates); Llama 3.1's differs in its date lines only
    // for these tool-less conversations: it always falls back to "26 Jul 2024" where 3.2 asks strftime_now.
    private static readonly string Llama32Text = File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "chat-templates", "llama3.2-instruct.jinja"));

    private static readonly string Llama31Text = Llama32Text.Replace(
        "    {%- if strftime_now is defined %}\n        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n        {%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n",
        "    {%- set date_string = \"26 Jul 2024\" %}\n",
        StringComparison.Ordinal);

    [Fact]
    public void Render_Llama31_MatchesTransformersOutputWithDefaultDate()
    {
        Assert.NotEqual(Llama32Text, Llama31Text);
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
        ChatTemplate template = ChatTemplate.Resolve(Llama32Text, null, "tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>", new FixedTime(new DateTimeOffset(2026, 11, 3, 12, 0, 0, TimeSpan.Zero)));
        Assert.Contains("Today Date: 03 Nov 2026\n\n", template.Render([new ChatMessage("user", "Hi")]), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_PlainLlama3Template_IsNotMistakenForLlama31()
    {
        ChatTemplate template = ChatTemplate.Resolve("{{ '<|start_header_id|>' + message['role'] }}", null, "tokenizer_config.json", null, null);
        Assert.Equal("llama3", template.Name);
    }
}

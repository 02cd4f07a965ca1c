using Inference.Worker.Loading;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are terse."),
        new("user", " Hi there "),
        new("assistant", "Hello."),
        new("user", "What is 2+2?"),
    ];

    [Fact]
    public void Render_Llama2_MatchesTemplateOutput()
    {
        var template = ChatTemplate.Resolve(ChatTemplate.Llama2Text, null, "tokenizer_config.json", "<s>", "</s>");

        var text = template.Render(Conversation);

        Assert.Equal("llama2", template.Name);
        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\n Hi there [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]",
            text);
    }

    [Fact]
    public void Render_Llama3_MatchesTemplateOutput()
    {
        var template = ChatTemplate.Resolve(SyntheticTokenizerWriter.Llama3Template, null, "tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>");

        var text = template.Render(Conversation);

        Assert.Equal("llama3", template.Name);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            text);
        Assert.EndsWith("<|eot_id|>", template.Render(Conversation, addGenerationPrompt: false));
    }

    [Fact]
    public void Render_Qwen2WithoutSystem_AddsDefaultSystemMessage()
    {
        var template = ChatTemplate.Resolve(SyntheticTokenizerWriter.Qwen2Template, null, "tokenizer_config.json", null, "<|im_end|>");

        var text = template.Render([new ChatMessage("user", "Hi")]);

        Assert.Equal("chatml", template.Name);
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            text);
    }

    [Fact]
    public void Render_Qwen2WithSystem_KeepsGivenSystemOnly()
    {
        var template = ChatTemplate.Resolve(SyntheticTokenizerWriter.Qwen2Template, null, "tokenizer_config.json", null, "<|im_end|>");

        var text = template.Render(Conversation, addGenerationPrompt: false);

        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n Hi there <|im_end|>\n"
            + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n",
            text);
    }

    [Fact]
    public void Render_Mistral_PrependsSystemToFirstUser()
    {
        var template = ChatTemplate.Resolve(null, "mistral", "tokenizer_config.json", "<s>", "</s>");

        var text = template.Render(Conversation);

        Assert.Equal("<s>[INST] You are terse.\n\n Hi there  [/INST]Hello.</s>[INST] What is 2+2? [/INST]", text);
    }

    [Fact]
    public void Resolve_ExplicitName_OverridesDetection()
    {
        var template = ChatTemplate.Resolve(ChatTemplate.Llama2Text, "chatml", "tokenizer_config.json", "<s>", "</s>");

        var text = template.Render([new ChatMessage("user", "Hi")]);

        Assert.Equal("chatml", template.Name);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Resolve_UnknownTemplate_RendersThroughInterpreterNamedJinja()
    {
        var template = ChatTemplate.Resolve("{% for m in messages %}{{ m['content'] }}{% endfor %}", null, "tokenizer_config.json", null, null);

        Assert.Equal("jinja", template.Name);
        Assert.Equal("ab", template.Render([new("user", "a"), new("assistant", "b")]));
    }

    [Fact]
    public void Resolve_InvalidTemplate_ThrowsNamingConfigFieldAndLine()
    {
        var ex = Assert.Throws<ModelLoadException>(
            () => ChatTemplate.Resolve("{% for m in messages %}\n{{ m['content'] }}\n{% endif %}", null, "tokenizer_config.json", null, null));

        Assert.Equal("tokenizer_config.json", ex.File);
        Assert.Equal("chat_template", ex.Field);
        Assert.Contains("line 3", ex.Message);
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("mistral")]
    public void Render_NonAlternatingRoles_ThrowsArgumentException(string name)
    {
        var template = ChatTemplate.Resolve(null, name, "tokenizer_config.json", "<s>", "</s>");

        var ex = Assert.Throws<ArgumentException>(() => template.Render([new("user", "a"), new("user", "b")]));

        Assert.Contains("alternate", ex.Message);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("chatml")]
    public void Render_UnknownRole_ThrowsArgumentException(string name)
    {
        var template = ChatTemplate.Resolve(null, name, "tokenizer_config.json", null, null);

        var ex = Assert.Throws<ArgumentException>(() => template.Render([new("robot", "a")]));

        Assert.Contains("robot", ex.Message);
    }

    [Fact]
    public void Load_ChatTemplateOverrideName_ReplacesDeclaredTemplate()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);

        var tokenizer = ModelTokenizer.Load(dir.Path, chatTemplateOverride: "mistral");

        Assert.Equal("mistral", tokenizer.ChatTemplate!.Name);
        Assert.Equal("<s>[INST] Hi [/INST]", tokenizer.ChatTemplate.Render([new ChatMessage("user", "Hi")]));
    }

    [Fact]
    public void Load_ChatTemplateAsList_UsesDefaultEntry()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ChatMlBpe, TokenizerTestData.TargetVocab);
        var config = Path.Combine(dir.Path, "tokenizer_config.json");
        File.WriteAllText(config, """
            {"eos_token": {"content": "<|im_end|>"}, "chat_template": [
              {"name": "tool_use", "template": "{{ '[INST]' }}"},
              {"name": "default", "template": "{{ '<|im_start|>' }}"}]}
            """);

        var tokenizer = ModelTokenizer.Load(dir.Path);

        Assert.Equal("chatml", tokenizer.ChatTemplate!.Name);
    }
}

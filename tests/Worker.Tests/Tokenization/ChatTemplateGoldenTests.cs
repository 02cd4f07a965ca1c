using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

/// <summary>
/// Real Hugging Face chat templates rendered by jinja2 as transformers renders them
/// (TestData/tokenizers/chat-templates; command in its README.md and golden.json).
/// </summary>
public sealed class ChatTemplateGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "chat-templates", "golden.json");

    public static TheoryData<string> TemplateNames()
    {
        using var golden = Load();
        var data = new TheoryData<string>();
        foreach (var template in golden.RootElement.GetProperty("templates").EnumerateArray())
        {
            data.Add(template.GetProperty("name").GetString()!);
        }

        return data;
    }

    public static TheoryData<string, string, bool> Cases()
    {
        using var golden = Load();
        var data = new TheoryData<string, string, bool>();
        foreach (var template in golden.RootElement.GetProperty("templates").EnumerateArray())
        {
            foreach (var item in template.GetProperty("cases").EnumerateArray())
            {
                data.Add(template.GetProperty("name").GetString()!, item.GetProperty("conversation").GetString()!, item.GetProperty("add_generation_prompt").GetBoolean());
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TemplateNames))]
    public void Resolve_RealTemplateText_DetectsFamily(string name)
    {
        using var golden = Load();
        var spec = FindTemplate(golden, name);

        var template = ChatTemplate.Resolve(spec.GetProperty("template").GetString(), null, "tokenizer_config.json", Token(spec, "bos_token"), Token(spec, "eos_token"));

        Assert.Equal(spec.GetProperty("family").GetString(), template.Name);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Render_RealTemplate_MatchesJinja(string name, string conversation, bool addGenerationPrompt)
    {
        using var golden = Load();
        var spec = FindTemplate(golden, name);
        var item = spec.GetProperty("cases").EnumerateArray().Single(c =>
            c.GetProperty("conversation").GetString() == conversation && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        var messages = golden.RootElement.GetProperty("conversations").GetProperty(conversation).EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToArray();
        var template = ChatTemplate.Resolve(spec.GetProperty("template").GetString(), null, "tokenizer_config.json", Token(spec, "bos_token"), Token(spec, "eos_token"));

        if (item.TryGetProperty("error", out var error))
        {
            // jinja's raise_exception: the template refuses this conversation (e.g. a system message for Mistral v0.1/v0.2).
            var ex = Assert.Throws<ArgumentException>(() => template.Render(messages, addGenerationPrompt));
            Assert.Contains("alternate", ex.Message, StringComparison.Ordinal);
            Assert.Contains("alternate", error.GetString(), StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(item.GetProperty("rendered").GetString(), template.Render(messages, addGenerationPrompt));
        }
    }

    private static JsonDocument Load() => JsonDocument.Parse(File.ReadAllBytes(GoldenPath));

    private static JsonElement FindTemplate(JsonDocument golden, string name) =>
        golden.RootElement.GetProperty("templates").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    private static string? Token(JsonElement spec, string field) =>
        spec.GetProperty(field).ValueKind == JsonValueKind.String ? spec.GetProperty(field).GetString() : null;
}

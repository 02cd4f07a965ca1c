using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

/// <summary>
/// Real Hugging Face chat templates rendered by jinja2 as transformers renders them, with and without tools
/// (TestData/tokenizers/chat-templates; command in its README.md and golden.json).
/// </summary>
public sealed class ChatTemplateGoldenTests
{
    // The golden script's FIXED_NOW, for strftime_now.
    internal static readonly DateTimeOffset FixedNow = new(2025, 3, 14, 9, 26, 53, TimeSpan.Zero);

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

    public static TheoryData<string, int, string> Cases()
    {
        using var golden = Load();
        var data = new TheoryData<string, int, string>();
        foreach (var template in golden.RootElement.GetProperty("templates").EnumerateArray())
        {
            var index = 0;
            foreach (var item in template.GetProperty("cases").EnumerateArray())
            {
                // The description only makes the test name readable.
                var description = item.GetProperty("conversation").GetString()
                    + (item.GetProperty("add_generation_prompt").GetBoolean() ? " +prompt" : string.Empty)
                    + (item.TryGetProperty("tools", out _) ? " +tools" : string.Empty)
                    + (item.TryGetProperty("variables", out var v) ? " " + v.GetRawText() : string.Empty);
                data.Add(template.GetProperty("name").GetString()!, index++, description);
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
    public void Render_RealTemplate_MatchesJinja(string name, int caseIndex, string description)
    {
        using var golden = Load();
        var spec = FindTemplate(golden, name);
        var item = spec.GetProperty("cases")[caseIndex];
        Assert.StartsWith(item.GetProperty("conversation").GetString()!, description, StringComparison.Ordinal);
        var messages = ReadMessages(golden.RootElement.GetProperty("conversations").GetProperty(item.GetProperty("conversation").GetString()!));
        var tools = item.TryGetProperty("tools", out _) ? ReadTools(golden.RootElement.GetProperty("tools")) : null;
        Dictionary<string, object?>? variables = item.TryGetProperty("variables", out var v)
            ? v.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone())
            : null;
        var template = ChatTemplate.Resolve(
            spec.GetProperty("template").GetString(), null, "tokenizer_config.json", Token(spec, "bos_token"), Token(spec, "eos_token"), new FixedTime(FixedNow));
        var addGenerationPrompt = item.GetProperty("add_generation_prompt").GetBoolean();

        if (item.TryGetProperty("error", out var error))
        {
            // jinja's raise_exception: the template refuses this conversation; the message is the template's own.
            var ex = Assert.Throws<ArgumentException>(() => template.Render(messages, addGenerationPrompt, tools, variables));
            Assert.Equal("TemplateError", item.GetProperty("error_type").GetString());
            Assert.StartsWith(error.GetString()!, ex.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(item.GetProperty("rendered").GetString(), template.Render(messages, addGenerationPrompt, tools, variables));
        }
    }

    internal static ChatMessage[] ReadMessages(JsonElement conversation) =>
        conversation.EnumerateArray().Select(m => new ChatMessage(
            m.GetProperty("role").GetString()!,
            m.GetProperty("content").GetString()!,
            m.TryGetProperty("tool_calls", out var calls)
                ? calls.EnumerateArray().Select(c => new ChatToolCall(
                    c.GetProperty("id").GetString()!,
                    c.GetProperty("function").GetProperty("name").GetString()!,
                    c.GetProperty("function").GetProperty("arguments").GetRawText())).ToArray()
                : null,
            m.TryGetProperty("tool_call_id", out var id) ? id.GetString() : null)).ToArray();

    internal static ChatTool[] ReadTools(JsonElement tools) =>
        tools.EnumerateArray().Select(t => t.GetProperty("function")).Select(f => new ChatTool(
            f.GetProperty("name").GetString()!,
            f.TryGetProperty("description", out var d) ? d.GetString() : null,
            f.TryGetProperty("parameters", out var p) ? p.GetRawText() : null)).ToArray();

    private static JsonDocument Load() => JsonDocument.Parse(File.ReadAllBytes(GoldenPath));

    private static JsonElement FindTemplate(JsonDocument golden, string name) =>
        golden.RootElement.GetProperty("templates").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    private static string? Token(JsonElement spec, string field) =>
        spec.GetProperty(field).ValueKind == JsonValueKind.String ? spec.GetProperty(field).GetString() : null;
}

using System.Text.Json;
using Inference.Worker.Tokenization.Jinja;

namespace Inference.Worker.Tests.Tokenization.Jinja;

/// <summary>
/// One Jinja feature per snippet, rendered by jinja2 the way transformers configures it
/// (TestData/tokenizers/make_jinja_snippet_golden.py writes chat-templates/jinja-snippets.json).
/// </summary>
public sealed class JinjaSnippetGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "chat-templates", "jinja-snippets.json");

    // jinja2 error types whose wording we reproduce exactly.
    private static readonly string[] SameWording = ["TemplateError", "UndefinedError", "SecurityError"];

    public static TheoryData<int, string> Cases()
    {
        using var golden = JsonDocument.Parse(File.ReadAllBytes(GoldenPath));
        var data = new TheoryData<int, string>();
        var index = 0;
        foreach (var item in golden.RootElement.GetProperty("cases").EnumerateArray())
        {
            var text = item.GetProperty("template").GetString()!;
            data.Add(index++, text.Length > 60 ? text[..60] : text);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Render_Snippet_MatchesJinja(int index, string start)
    {
        using var golden = JsonDocument.Parse(File.ReadAllBytes(GoldenPath));
        var item = golden.RootElement.GetProperty("cases")[index];
        var text = item.GetProperty("template").GetString()!;
        Assert.StartsWith(start, text, StringComparison.Ordinal);
        var variables = golden.RootElement.GetProperty("variables").EnumerateObject()
            .ToDictionary(p => p.Name, p => JinjaJson.FromJson(p.Value));

        if (!item.TryGetProperty("error_type", out var errorType))
        {
            Assert.Equal(item.GetProperty("rendered").GetString(), JinjaTemplate.Parse(text).Render(variables));
            return;
        }

        var type = errorType.GetString()!;
        if (type is "TemplateSyntaxError" or "SyntaxError")
        {
            var syntax = Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse(text));
            if (item.TryGetProperty("line", out var line))
            {
                Assert.Equal(line.GetInt32(), syntax.Line);
            }

            return;
        }

        var template = JinjaTemplate.Parse(text);
        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(variables));
        Assert.IsType(type == "TemplateError" ? typeof(JinjaRaisedException) : typeof(JinjaException), ex);
        if (SameWording.Contains(type))
        {
            Assert.Equal(item.GetProperty("error").GetString(), ex.Detail);
        }
    }
}

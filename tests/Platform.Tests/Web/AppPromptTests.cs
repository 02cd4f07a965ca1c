using System.Text.Json;
using Inference.Platform.Api;
using Inference.Platform.Apps;

namespace Inference.Platform.Tests.Web;

public sealed class AppPromptTests
{
    private static AppSpec Tutor => AppTemplates.Find("tutor")!;

    [Fact]
    public void Templates_AreAllValid_AndUseOnlyTheirFields()
    {
        foreach (AppSpec t in AppTemplates.All)
        {
            AppPrompt.Validate(t);
        }

        Assert.Equal(["tutor", "faq", "summarizer", "task_analysis", "blank"], AppTemplates.All.Select(t => t.Template));
    }

    [Fact]
    public void Validate_UnknownVariable_NamesThePrompt()
    {
        var ex = Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { Prompt = "{{subject}} {{grade}}" }));
        Assert.Equal("prompt", ex.Field);
        Assert.Contains("{{grade}}", ex.Message);
    }

    [Fact]
    public void Validate_BadOrDuplicateFieldName_NamesTheField()
    {
        var renamed = Tutor.Fields.ToList();
        renamed[0] = renamed[0] with { Name = "Bad Name" };
        Assert.Equal("fields[0].name", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { Fields = renamed })).Field);
        var duplicated = Tutor.Fields.Append(Tutor.Fields[2]).ToList();
        Assert.Equal("fields[3].name", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { Fields = duplicated })).Field);
    }

    [Fact]
    public void Validate_ChoiceWithoutOptions_AndSamplingOutOfRange_AreRefused()
    {
        var fields = Tutor.Fields.ToList();
        fields[1] = fields[1] with { Options = [] };
        Assert.Equal("fields[1].options", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { Fields = fields })).Field);
        Assert.Equal("temperature", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { Temperature = 2.5 })).Field);
        Assert.Equal("top_p", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { TopP = 0 })).Field);
        Assert.Equal("max_tokens", Assert.Throws<PlatformException>(() => AppPrompt.Validate(Tutor with { MaxTokens = 0 })).Field);
    }

    [Fact]
    public void CheckInputs_RequiredChoiceAndUnknown_AreRefusedByName()
    {
        Assert.Equal("inputs.question", Assert.Throws<PlatformException>(() => AppPrompt.CheckInputs(Tutor, Inputs(("subject", "math"), ("level", "high school")))).Field);
        Assert.Equal("inputs.level", Assert.Throws<PlatformException>(() => AppPrompt.CheckInputs(Tutor, Inputs(("subject", "math"), ("level", "college"), ("question", "q")))).Field);
        Assert.Equal("inputs.mood", Assert.Throws<PlatformException>(() => AppPrompt.CheckInputs(Tutor, Inputs(("mood", "x")))).Field);
    }

    [Fact]
    public void ChatBody_FillsOnce_KeepsValuesLiteral_AndCarriesSampling()
    {
        var values = AppPrompt.CheckInputs(Tutor, Inputs(("subject", "{{level}}"), ("level", "high school"), ("question", "<b>2+2</b>")));
        using JsonDocument doc = JsonDocument.Parse(AppPrompt.ChatBody(Tutor, values, "brown-llama-5m", stream: true));
        JsonElement root = doc.RootElement;
        var messages = root.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Contains("high school students", messages[0].GetProperty("content").GetString());
        Assert.Equal(["system", "user", "assistant", "user"], messages.Select(m => m.GetProperty("role").GetString()));
        // A value that looks like a variable is not expanded again; HTML stays text for the model.
        Assert.Equal("Subject: {{level}}\nMy problem: <b>2+2</b>", messages[3].GetProperty("content").GetString());
        Assert.Equal(0.7, root.GetProperty("temperature").GetDouble());
        Assert.Equal(96, root.GetProperty("max_tokens").GetInt32());
        Assert.True(root.GetProperty("stream").GetBoolean());
    }

    [Theory]
    [InlineData("Math Hints", "math-hints")]
    [InlineData("  Q&A -- Shop!  ", "q-a-shop")]
    [InlineData("요약 도우미", "")]
    public void SlugOf_KeepsAsciiLettersAndDigits(string name, string slug) => Assert.Equal(slug, AppPrompt.SlugOf(name));

    private static Dictionary<string, string?> Inputs(params (string Name, string Value)[] pairs) => pairs.ToDictionary(p => p.Name, p => (string?)p.Value);
}

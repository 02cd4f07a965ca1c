using System.Text;
using Inference.Gateway.Api;
using Inference.Gateway.Serving;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// The tool-call parser over every way a stream can be cut: fed whole, one character at a time and in random
/// pieces, it gives the same content and the same calls, and the fragments of a call concatenate to its
/// arguments exactly (what a streaming client reassembles).
/// </summary>
public sealed class ToolCallStreamTests
{
    private static readonly string[] Functions = ["get_weather", "send_mail"];

    private sealed record Result(string? Content, List<(string Id, string Name, string Arguments)> Calls, string StreamedContent, List<(string? Id, string? Name, string Arguments)> Streamed);

    private static Result Run(ToolMode mode, IEnumerable<string> pieces, string? named = null)
    {
        ToolCallStream s = ToolCallStream.Create(mode, Functions, "req-1:0", named);
        var content = new StringBuilder();
        var streamed = new List<(string? Id, string? Name, StringBuilder Arguments)>();
        List<string> all = [.. pieces];
        for (int i = 0; i < all.Count; i++)
        {
            ToolStep step = s.Push(all[i], i == all.Count - 1);
            content.Append(step.Content);
            foreach (ToolCallFragment f in step.Fragments)
            {
                if (f.Id is not null)
                {
                    Assert.Equal(streamed.Count, f.Index);
                    Assert.Equal(string.Empty, f.Arguments);
                    streamed.Add((f.Id, f.Name, new StringBuilder()));
                }
                else
                {
                    Assert.Null(f.Name);
                    streamed[f.Index].Arguments.Append(f.Arguments);
                }
            }
        }

        return new Result(
            s.Content,
            [.. s.Calls.Select(c => (c.Id, c.Name, c.Arguments))],
            content.ToString(),
            [.. streamed.Select(c => (c.Id, c.Name, c.Arguments.ToString()))]);
    }

    // Whole, per character, and seeded random cuts (including empty pieces).
    private static IEnumerable<IEnumerable<string>> Cuts(string text)
    {
        yield return [text];
        yield return text.Select(c => c.ToString()).Append(string.Empty);
        for (int seed = 1; seed <= 20; seed++)
        {
            var random = new Random(seed);
            var pieces = new List<string>();
            int at = 0;
            while (at < text.Length)
            {
                int n = Math.Min(random.Next(0, 6), text.Length - at);
                pieces.Add(text.Substring(at, n));
                at += n;
            }

            pieces.Add(string.Empty);
            yield return pieces;
        }
    }

    private static void AssertEveryCut(ToolMode mode, string text, string? expectedContent, (string Name, string Arguments)[] expectedCalls, string? named = null)
    {
        foreach (IEnumerable<string> cut in Cuts(text))
        {
            Result r = Run(mode, cut, named);
            Assert.Equal(expectedContent, r.Content);
            Assert.Equal(expectedContent ?? string.Empty, r.StreamedContent);
            Assert.Equal(expectedCalls, r.Calls.Select(c => (c.Name, c.Arguments)).ToArray());
            Assert.Equal(r.Calls.Select(c => ((string?)c.Id, (string?)c.Name, c.Arguments)), r.Streamed);
            Assert.All(r.Calls, c => Assert.Matches("^call_[0-9a-f]{24}$", c.Id));
            Assert.Equal(r.Calls.Count, r.Calls.Select(c => c.Id).Distinct().Count());
        }
    }

    [Fact]
    public void Named_TheWholeOutputIsTheArguments_SurroundingSpaceDropped()
    {
        AssertEveryCut(ToolMode.Named, "  {\"city\": \"Seoul\", \"note\": \"a  b \"} \n", null, [("get_weather", "{\"city\": \"Seoul\", \"note\": \"a  b \"}")], "get_weather");
    }

    [Fact]
    public void Required_EachElementOpensACall_ArgumentsStreamExactly()
    {
        const string Text = """[{"name": "get_weather", "arguments": {"city": "Se}o\"ul", "days": [1, {"x": 2}]}}, { "name":"send_mail","arguments":{}} ]""";
        AssertEveryCut(ToolMode.Required, Text, null, [("get_weather", """{"city": "Se}o\"ul", "days": [1, {"x": 2}]}"""), ("send_mail", "{}")]);
    }

    [Fact]
    public void Required_CutByLength_KeepsTheCallsBegunSoFar()
    {
        AssertEveryCut(ToolMode.Required, """[{"name": "get_weather", "arguments": {"city": "Se""", null, [("get_weather", """{"city": "Se""")]);
    }

    [Fact]
    public void Auto_HermesTags_AreCalls_TextAroundIsContent()
    {
        const string Text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Busan\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"send_mail\", \"arguments\": {\"to\": \"a<b\"}}\n</tool_call>";
        AssertEveryCut(ToolMode.Auto, Text, "Let me check.\n", [("get_weather", "{\"city\": \"Busan\"}"), ("send_mail", "{\"to\": \"a<b\"}")]);
    }

    [Fact]
    public void Auto_LlamaStyleBareObject_IsACall_ParametersAccepted()
    {
        AssertEveryCut(ToolMode.Auto, " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Seoul\"}}", null, [("get_weather", "{\"city\": \"Seoul\"}")]);
        AssertEveryCut(ToolMode.Auto, "[{\"name\": \"send_mail\", \"arguments\": {}}]", null, [("send_mail", "{}")]);
    }

    [Fact]
    public void Auto_MistralAndLlamaMarkers_WhenKept_AreTakenOff()
    {
        AssertEveryCut(ToolMode.Auto, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Seoul\"}, \"id\": \"a1b2c3d4e\"}]", null, [("get_weather", "{\"city\": \"Seoul\"}")]);
        AssertEveryCut(ToolMode.Auto, "<|python_tag|>{\"name\": \"send_mail\", \"parameters\": {\"to\": \"kim\"}}", null, [("send_mail", "{\"to\": \"kim\"}")]);
    }

    [Theory]
    [InlineData("[TOOL_CALLS] not a call")]
    [InlineData("[TOOL")]
    [InlineData("<|python_tag|>print(1)")]
    [InlineData("The weather is fine. I won't call <tool anything.")]
    [InlineData("{\"name\": \"not_a_tool\", \"arguments\": {}}")]
    [InlineData("{\"city\": \"Seoul\"}")]
    [InlineData("[1, 2]")]
    [InlineData("[not json")]
    [InlineData("Text then <tool_call>{broken</tool_call> and more ")]
    [InlineData("<tool_call>{\"name\": \"get_weather\"")]
    [InlineData("   ")]
    public void Auto_TextThatIsNotACallOfADefinedFunction_StaysContentExactly(string text)
    {
        AssertEveryCut(ToolMode.Auto, text, text, []);
    }

    [Fact]
    public void CallIds_AreStablePerRequestChoiceAndIndex()
    {
        Assert.Equal(ToolCallStream.CallId("r:0", 0), ToolCallStream.CallId("r:0", 0));
        Assert.NotEqual(ToolCallStream.CallId("r:0", 0), ToolCallStream.CallId("r:0", 1));
        Assert.NotEqual(ToolCallStream.CallId("r:0", 0), ToolCallStream.CallId("r:1", 0));
    }
}

using System.Text;
using Inference.Worker.Constraints;

namespace Inference.Worker.Tests.Constraints;

public sealed class GrammarTests
{
    internal const string JsonGbnf = """
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
        array  ::= "[" ws ( value ("," ws value)* )? "]" ws
        string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt/] | "u" [0-9a-fA-F]{4}) )* "\"" ws
        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? ws
        # whitespace, bounded so a model cannot pad forever
        ws ::= [ \t\n]{0,20}
        """;

    internal static bool Matches(string gbnf, string text) => Matches(Grammar.Parse(gbnf), text);

    internal static bool Matches(Grammar grammar, string text) =>
        grammar.Step(grammar.Initial, Encoding.UTF8.GetBytes(text)) is { CanEnd: true };

    internal static bool IsPrefix(Grammar grammar, string text) => grammar.Step(grammar.Initial, Encoding.UTF8.GetBytes(text)) is not null;

    [Theory]
    [InlineData("""{}""", true)]
    [InlineData("""{"a": 1, "b": [true, null, -0.5e10], "c": {"d": "x\"y\u00e9"}}""", true)]
    [InlineData("""{"a": 01}""", false)]
    [InlineData("""{"a" 1}""", false)]
    [InlineData("""[1]""", false)]
    [InlineData("""{"a": "unterminated}""", false)]
    [InlineData("""{"k": "한국어 👋"}""", true)]
    public void JsonGrammarAcceptsExactlyJson(string text, bool valid) => Assert.Equal(valid, Matches(JsonGbnf, text));

    [Fact]
    public void PrefixesOfValidOutputAreLiveAndOnlyTheWholeCanEnd()
    {
        Grammar g = Grammar.Parse(JsonGbnf);
        const string text = """{"name": "민수", "n": [1, 2]}""";
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        MatchState? state = g.Initial;
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.False(state!.CanEnd, $"ended early at byte {i}");
            state = g.Step(state, bytes[i]);
            Assert.NotNull(state);
        }

        Assert.True(state!.CanEnd);
    }

    [Theory]
    [InlineData("root ::= \"a\"{2,3}", "a", false)]
    [InlineData("root ::= \"a\"{2,3}", "aa", true)]
    [InlineData("root ::= \"a\"{2,3}", "aaa", true)]
    [InlineData("root ::= \"a\"{2,3}", "aaaa", false)]
    [InlineData("root ::= \"a\"{2,}", "aaaaaaa", true)]
    [InlineData("root ::= \"a\"{2}", "aa", true)]
    [InlineData("root ::= (\"ab\" | \"c\")+ \"!\"", "abcab!", true)]
    [InlineData("root ::= (\"ab\" | \"c\")+ \"!\"", "!", false)]
    [InlineData("root ::= [^a-c]*", "xyz", true)]
    [InlineData("root ::= [^a-c]*", "xbz", false)]
    [InlineData("root ::= [가-힣]+", "안녕", true)]
    [InlineData("root ::= [가-힣]+", "안x", false)]
    [InlineData("root ::= . \"z\"", "😀z", true)]
    [InlineData("root ::= item?\nitem ::= \"q\"", "", true)]
    [InlineData("root ::= \"\\x41\\u00e9\\n\"", "Aé\n", true)]
    public void RepetitionsClassesAndEscapes(string gbnf, string text, bool valid) => Assert.Equal(valid, Matches(gbnf, text));

    [Fact]
    public void CompleteOnlyWhenNothingCanFollow()
    {
        Grammar g = Grammar.Parse("root ::= \"yes\" | \"yes!\"");
        Assert.True(g.Step(g.Initial, "yes"u8)!.CanEnd);
        Assert.False(g.Step(g.Initial, "yes"u8)!.IsComplete);
        Assert.True(g.Step(g.Initial, "yes!"u8)!.IsComplete);
    }

    [Fact]
    public void StatesReachedAlongDifferentPathsAreEqual()
    {
        Grammar g = Grammar.Parse(JsonGbnf);
        MatchState a = g.Step(g.Initial, """{"a": "xy"""u8)!;
        MatchState b = g.Step(g.Initial, """{"b": "zw"""u8)!;
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, g.Step(g.Initial, """{"b": "zw" """u8)!);
    }

    [Fact]
    public void DeepNestingKeepsWorking()
    {
        Grammar g = Grammar.Parse("root ::= \"[\" root? \"]\"");
        string text = new string('[', 5000) + new string(']', 5000);
        Assert.True(Matches(g, text));
        Assert.False(Matches(g, text + "]"));
    }

    [Theory]
    [InlineData("item ::= \"a\"", "no 'root' rule")]
    [InlineData("root ::= missing", "'missing' is referenced but not defined")]
    [InlineData("root ::= root \"a\" | \"b\"", "left-recursive")]
    [InlineData("root ::= x\nx ::= \"a\"? root", "left-recursive")]
    [InlineData("root ::= \"a\"{90000} \"b\"{90000} \"c\"{90000}", "too large")]
    [InlineData("root ::= [a-", "unterminated character class")]
    [InlineData("root ::= \"abc", "line 1")]
    [InlineData("root ::= [a-", "line 1")]
    [InlineData("root ::= \"a\"\nfoo ::= ( \"b\"", "line 2")]
    [InlineData("root ::= \"a\"{3,2}", "")]
    public void BadGrammarsAreRefusedWithTheReason(string gbnf, string expected)
    {
        GrammarException ex = Assert.Throws<GrammarException>(() => Grammar.Parse(gbnf));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}

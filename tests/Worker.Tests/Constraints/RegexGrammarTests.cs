using Inference.Worker.Constraints;

namespace Inference.Worker.Tests.Constraints;

public sealed class RegexGrammarTests
{
    [Theory]
    [InlineData(@"\d{3}-\d{4}", "555-1234", true)]
    [InlineData(@"\d{3}-\d{4}", "555-12345", false)]
    [InlineData(@"^(yes|no)$", "yes", true)]
    [InlineData(@"^(yes|no)$", "maybe", false)]
    [InlineData(@"[A-Z][a-z]+(?: [A-Z][a-z]+)*", "Grace Hopper", true)]
    [InlineData(@"[A-Z][a-z]+(?: [A-Z][a-z]+)*", "grace", false)]
    [InlineData(@"[^\d\s]+", "abc!", true)]
    [InlineData(@"[^\d\s]+", "ab c", false)]
    [InlineData(@"a.c", "a\nc", false)]
    [InlineData(@"a.c", "a한c", true)]
    [InlineData(@"\w+@\w+\.com", "ada@example.com", true)]
    [InlineData(@"colou?r", "color", true)]
    [InlineData(@"x{2,}?", "xxxx", true)]
    [InlineData(@"a{2", "a{2", true)]
    [InlineData(@"[\]\-]+", "]-]", true)]
    [InlineData(@"(?P<year>\d{4})", "2026", true)]
    [InlineData(@"\u00e9\x41", "éA", true)]
    public void MatchesTheWholeOutput(string pattern, string text, bool valid) =>
        Assert.Equal(valid, GrammarTests.Matches(RegexGrammar.ToGbnf(pattern), text));

    [Theory]
    [InlineData(@"(a", "missing ')'")]
    [InlineData(@"a)", "unbalanced ')'")]
    [InlineData(@"(?=a)", "lookaround")]
    [InlineData(@"\bword", "word boundaries")]
    [InlineData(@"(a)\1", "backreferences")]
    [InlineData(@"\p{L}", "Unicode properties")]
    [InlineData(@"a^b", "'^' is supported only at the start")]
    [InlineData(@"*a", "nothing to repeat")]
    [InlineData(@"[z-a]", "reversed")]
    [InlineData(@"a{5,2}", "reversed")]
    [InlineData(@"a++", "possessive")]
    public void UnsupportedSyntaxIsRefused(string pattern, string expected)
    {
        GrammarException ex = Assert.Throws<GrammarException>(() => Grammar.Parse(RegexGrammar.ToGbnf(pattern)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}

using System.Text;
using System.Text.Unicode;
using System.Text.Json;
using Inference.Worker.Constraints;
using Inference.Worker.Tests.Demo;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Constraints;

public sealed class TokenConstraintTests
{
    private static readonly Lazy<ModelTokenizer> Tokenizer = new(() => ModelTokenizer.Load(BundledModel.Directory()));

    private static ConstraintCompiler Compiler() => new(Tokenizer.Value);

    [Fact]
    public void MaskIsExactlyTheTokensTheGrammarAllows()
    {
        ModelTokenizer tok = Tokenizer.Value;
        TokenConstraint c = Compiler().Compile(GrammarTests.JsonGbnf);
        foreach (string prefix in new[] { "", "{", "{\"a\"", "{\"a\": ", "{\"a\": 12", "{\"a\": \"x", "{\"a\": [1, {}]", "{\"a\": \"\\u00" })
        {
            GrammarMatcher m = c.CreateMatcher();
            Assert.True(m.AcceptText(Encoding.UTF8.GetBytes(prefix)), prefix);
            ReadOnlySpan<byte> mask = m.AllowedTokens().Span;
            Assert.Equal(tok.VocabSize, mask.Length);
            MatchState state = c.Grammar.Step(c.Grammar.Initial, Encoding.UTF8.GetBytes(prefix))!;
            int allowed = 0;
            for (int id = 0; id < tok.VocabSize; id++)
            {
                bool expected = tok.EosTokenIds.Contains(id)
                    ? state.CanEnd
                    : !tok.IsSpecial(id) && tok.TokenBytes(id).Length > 0 && c.Grammar.Step(state, tok.TokenBytes(id)) is not null;
                Assert.True(expected == (mask[id] == 1), $"prefix '{prefix}', token {id} '{tok.IdToToken(id)}': expected {expected}");
                allowed += mask[id];
            }

            Assert.True(allowed > 0, prefix);
        }
    }

    [Fact]
    public void EndOfSequenceOnlyWhenTheOutputIsAMatch()
    {
        ModelTokenizer tok = Tokenizer.Value;
        GrammarMatcher m = Compiler().Compile(GrammarTests.JsonGbnf).CreateMatcher();
        int eos = tok.EosTokenIds[0];
        Assert.Equal(0, m.AllowedTokens().Span[eos]);
        Assert.False(m.Accept(eos));
        Assert.True(m.AcceptText("{\"k\": 1}"u8));
        Assert.True(m.CanEnd);
        Assert.False(m.IsComplete);
        Assert.Equal(1, m.AllowedTokens().Span[eos]);
        Assert.True(m.Accept(eos));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomWalksThroughTheMaskAlwaysGiveValidJson(int seed)
    {
        ModelTokenizer tok = Tokenizer.Value;
        TokenConstraint c = Compiler().Compile(GrammarTests.JsonGbnf);
        var random = new Random(seed);
        GrammarMatcher m = c.CreateMatcher();
        var output = new List<byte>();
        var allowed = new List<int>();
        for (int step = 0; step < 400; step++)
        {
            ReadOnlySpan<byte> mask = m.AllowedTokens().Span;
            allowed.Clear();
            for (int id = 0; id < mask.Length; id++)
            {
                if (mask[id] == 1)
                {
                    allowed.Add(id);
                }
            }

            // Past 200 tokens, prefer closing tokens so the walk ends.
            int pick = allowed[random.Next(allowed.Count)];
            if (step > 200)
            {
                int closer = allowed.FindIndex(id => tok.EosTokenIds.Contains(id) || tok.TokenBytes(id) is [(byte)'}' or (byte)']' or (byte)'"' or (byte)'1'] );
                pick = closer >= 0 ? allowed[closer] : pick;
            }

            if (tok.EosTokenIds.Contains(pick))
            {
                break;
            }

            Assert.True(m.Accept(pick));
            output.AddRange(tok.TokenBytes(pick));
            if (m.IsComplete)
            {
                break;
            }
        }

        Assert.True(m.CanEnd, Encoding.UTF8.GetString([.. output]));
        Assert.True(Utf8.IsValid(output.ToArray()), Convert.ToHexString(output.ToArray()));
        using JsonDocument doc = JsonDocument.Parse(output.ToArray());
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
    }

    [Fact]
    public void MultiByteCharactersSpellableByByteTokensAreAllowed()
    {
        ModelTokenizer tok = Tokenizer.Value;
        GrammarMatcher m = Compiler().Compile("root ::= \"안녕\"").CreateMatcher();
        int steps = 0;
        while (!m.IsComplete && steps++ < 16)
        {
            ReadOnlySpan<byte> mask = m.AllowedTokens().Span;
            int pick = mask.IndexOf((byte)1);
            Assert.True(pick >= 0);
            Assert.DoesNotContain(pick, tok.EosTokenIds);
            Assert.True(m.Accept(pick));
        }

        Assert.True(m.IsComplete);
    }

    [Fact]
    public void SameTextSharesOneCompiledConstraintAndItsMasks()
    {
        ConstraintCompiler compiler = Compiler();
        TokenConstraint a = compiler.Compile(GrammarTests.JsonGbnf);
        Assert.Same(a, compiler.Compile(GrammarTests.JsonGbnf));
        GrammarMatcher first = a.CreateMatcher();
        first.AcceptText("{\"a\": \"xy"u8);
        _ = first.AllowedTokens();
        long misses = a.MaskMisses;
        GrammarMatcher second = a.CreateMatcher();
        second.AcceptText("{\"bb\": \"z"u8);
        Assert.True(second.AllowedTokens().Span.SequenceEqual(first.AllowedTokens().Span));
        Assert.Equal(misses, a.MaskMisses);
    }

    [Fact]
    public void AGrammarNoTokenCanSpellEndsTheOutput()
    {
        // A vocabulary without byte fallback: "a", "b", then end of sequence.
        byte[][] vocab = ["a"u8.ToArray(), "b"u8.ToArray(), []];
        TokenTrie trie = TokenTrie.Build(3, id => vocab[id], id => id == 2);
        var c = new TokenConstraint(Grammar.Parse("root ::= \"c\""), trie, 3, [2], id => vocab[id], id => id == 2);
        Assert.Equal(new byte[] { 0, 0, 1 }, c.CreateMatcher().AllowedTokens().ToArray());
        var ab = new TokenConstraint(Grammar.Parse("root ::= \"ab\""), trie, 3, [2], id => vocab[id], id => id == 2);
        Assert.Equal(new byte[] { 1, 0, 0 }, ab.CreateMatcher().AllowedTokens().ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0xBB })]
    [InlineData(new byte[] { 0xE0, 0x80, 0xBB })]
    [InlineData(new byte[] { 0xF0, 0x80, 0x81, 0xBB })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]
    public void OverlongSurrogateAndOutOfRangeBytesAreRefused(byte[] bytes)
    {
        Grammar g = Grammar.Parse("root ::= [^\"]*");
        Assert.NotNull(g.Step(g.Initial, "\u00e9\u20ac\U0001F600"u8));
        Assert.Null(g.Step(g.Initial, bytes));
    }
}

using System.Text;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

public sealed class IncrementalDetokenizerTests
{
    public static TheoryData<SyntheticTokenizerKind, int> Cases => TokenizerTestData.KindsAndTexts();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Push_EveryPrefix_ConcatenationEqualsDecode(SyntheticTokenizerKind kind, int textIndex)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, kind, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var ids = tokenizer.Encode(TokenizerTestData.Texts[textIndex]);

        foreach (var skip in new[] { true, false })
        {
            for (var prefix = 0; prefix <= ids.Length; prefix++)
            {
                var detokenizer = tokenizer.CreateDetokenizer(skip);
                var builder = new StringBuilder();
                for (var i = 0; i < prefix; i++)
                {
                    var delta = detokenizer.Push(ids[i]);
                    Assert.DoesNotContain('\uFFFD', delta);
                    if (delta.Length > 0)
                    {
                        Assert.False(char.IsLowSurrogate(delta[0]), "delta starts with a low surrogate");
                        Assert.False(char.IsHighSurrogate(delta[^1]), "delta ends with a high surrogate");
                    }

                    builder.Append(delta);
                }

                builder.Append(detokenizer.Flush());
                Assert.Equal(tokenizer.Decode(ids.AsSpan(0, prefix), skip), builder.ToString());
            }
        }
    }

    [Fact]
    public void Push_ByteFallbackEuro_HoldsBackUntilComplete()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var detokenizer = tokenizer.CreateDetokenizer();
        const int byteBase = 3; // <0x00> follows <unk>, <s>, </s>

        var first = detokenizer.Push(byteBase + 0xE2);
        var second = detokenizer.Push(byteBase + 0x82);
        var third = detokenizer.Push(byteBase + 0xAC);

        Assert.Equal(string.Empty, first);
        Assert.Equal(string.Empty, second);
        Assert.Equal("€", third);
        Assert.Equal(string.Empty, detokenizer.Flush());
    }

    [Fact]
    public void Flush_IncompleteTail_ReturnsReplacementCharLikeDecode()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var detokenizer = tokenizer.CreateDetokenizer();
        int[] ids = [3 + 'A', 3 + 0xE2, 3 + 0x82];

        var pushed = detokenizer.Push(ids[0]) + detokenizer.Push(ids[1]) + detokenizer.Push(ids[2]);
        var flushed = detokenizer.Flush();

        Assert.Equal("A", pushed);
        Assert.Equal("\uFFFD", flushed);
        Assert.Equal("A\uFFFD", tokenizer.Decode(ids));
    }

    [Fact]
    public void Push_SentencePieceFirstToken_DropsDummyPrefixSpaceOnce()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var ids = tokenizer.Encode("hello world");
        var detokenizer = tokenizer.CreateDetokenizer();

        var deltas = ids.Select(detokenizer.Push).ToArray();

        Assert.Equal(["", "hello", " world"], deltas);
    }

    [Theory]
    [InlineData(new byte[] { 0x41 }, 1)]
    [InlineData(new byte[] { 0x41, 0xE2 }, 1)]
    [InlineData(new byte[] { 0x41, 0xE2, 0x82 }, 1)]
    [InlineData(new byte[] { 0xE2, 0x82, 0xAC }, 3)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x9A }, 0)]
    [InlineData(new byte[] { 0xE0, 0x80 }, 2)]
    [InlineData(new byte[] { 0xED, 0xA0 }, 2)]
    [InlineData(new byte[] { 0x80, 0x80 }, 2)]
    [InlineData(new byte[] { 0xF5 }, 1)]
    public void CompleteLength_Tails_HoldsBackOnlyValidIncompletePrefix(byte[] bytes, int expected)
    {
        Assert.Equal(expected, IncrementalDetokenizer.CompleteLength(bytes));
    }
}

using Inference.Worker.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Inference.Worker.Tests.Tokenization;

public sealed class ModelTokenizerTests
{
    public static TheoryData<SyntheticTokenizerKind, int> Cases => TokenizerTestData.KindsAndTexts();

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodeDecode_SyntheticKind_RoundTripsText(SyntheticTokenizerKind kind, int textIndex)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, kind, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var text = TokenizerTestData.Texts[textIndex];

        var ids = tokenizer.Encode(text);

        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
    }

    [Theory]
    [InlineData(SyntheticTokenizerKind.SentencePiece, true)]
    [InlineData(SyntheticTokenizerKind.ByteLevelBpe, true)]
    [InlineData(SyntheticTokenizerKind.ChatMlBpe, false)]
    public void Encode_AddSpecialTokens_PrependsBosPerConfig(SyntheticTokenizerKind kind, bool expectBos)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, kind, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);

        var with = tokenizer.Encode("hello world");
        var without = tokenizer.Encode("hello world", addSpecialTokens: false);

        Assert.Equal(expectBos, tokenizer.AddBosToken);
        if (expectBos)
        {
            Assert.Equal(tokenizer.BosTokenId, with[0]);
            Assert.Equal(without, with[1..]);
        }
        else
        {
            Assert.Equal(without, with);
        }
    }

    [Fact]
    public void Load_SentencePiece_ReadsSpecialTokenSettings()
    {
        using var dir = new TempDirectory();
        var size = SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);

        var tokenizer = ModelTokenizer.Load(dir.Path);

        Assert.Equal(size, tokenizer.VocabSize);
        Assert.Equal(TokenizerTestData.TargetVocab, size);
        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal([2], tokenizer.EosTokenIds);
        Assert.Equal("llama2", tokenizer.ChatTemplate!.Name);
        Assert.True(tokenizer.IsSpecial(1));
        Assert.False(tokenizer.IsSpecial(300));
        Assert.Equal("<0x41>", tokenizer.IdToToken(3 + 0x41));
    }

    [Fact]
    public void Load_ByteLevel_ReadsEosListAndLlama3Template()
    {
        using var dir = new TempDirectory();
        var size = SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ByteLevelBpe, TokenizerTestData.TargetVocab);

        var tokenizer = ModelTokenizer.Load(dir.Path);

        var first = size - 5;
        Assert.Equal(size, tokenizer.VocabSize);
        Assert.Equal(first, tokenizer.BosTokenId);
        Assert.Equal([first + 1, first + 4], tokenizer.EosTokenIds);
        Assert.Equal("llama3", tokenizer.ChatTemplate!.Name);
        Assert.Equal("<|eot_id|>", tokenizer.IdToToken(first + 4));
    }

    [Fact]
    public void Load_ChatMl_ReadsEosListAndChatMlTemplate()
    {
        using var dir = new TempDirectory();
        var size = SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ChatMlBpe, TokenizerTestData.TargetVocab);

        var tokenizer = ModelTokenizer.Load(dir.Path);

        var first = size - 3;
        Assert.Equal([first + 2, first], tokenizer.EosTokenIds);
        Assert.Equal("chatml", tokenizer.ChatTemplate!.Name);
        Assert.False(tokenizer.AddBosToken);
    }

    [Theory]
    [InlineData(SyntheticTokenizerKind.SentencePiece, "<s>")]
    [InlineData(SyntheticTokenizerKind.ByteLevelBpe, "<|begin_of_text|>")]
    [InlineData(SyntheticTokenizerKind.ByteLevelBpe, "<|eot_id|>")]
    [InlineData(SyntheticTokenizerKind.ChatMlBpe, "<|im_start|>")]
    [InlineData(SyntheticTokenizerKind.ChatMlBpe, "<|im_end|>")]
    public void Encode_SpecialTokenInText_MapsToSingleId(SyntheticTokenizerKind kind, string special)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, kind, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var specialIds = tokenizer.Encode(special, addSpecialTokens: false);
        Assert.Single(specialIds);
        var id = specialIds[0];

        var ids = tokenizer.Encode("hi" + special + "there", addSpecialTokens: false);

        Assert.Equal(special, tokenizer.IdToToken(id));
        Assert.True(tokenizer.IsSpecial(id));
        Assert.Single(ids, x => x == id);
        Assert.DoesNotContain(special, tokenizer.Decode(ids));
        Assert.Contains(special, tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Encode_RenderedLlama3Prompt_MarkersAreSingleIds()
    {
        using var dir = new TempDirectory();
        var size = SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ByteLevelBpe, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var first = size - 5;
        var prompt = tokenizer.ChatTemplate!.Render([new ChatMessage("user", "hello")]);

        var ids = tokenizer.Encode(prompt, addSpecialTokens: false);

        Assert.Equal(first, ids[0]);
        Assert.Equal(first + 2, ids[1]);
        Assert.Equal(2, ids.Count(id => id == first + 2));
        Assert.Equal(2, ids.Count(id => id == first + 3));
        Assert.Equal(1, ids.Count(id => id == first + 4));
        Assert.Equal(prompt, tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Encode_SentencePieceKnownWord_UsesWrittenPiece()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);

        var ids = tokenizer.Encode("hello world", addSpecialTokens: false);

        Assert.Equal(new[] { "\u2581hello", "\u2581world" }, ids.Select(id => tokenizer.IdToToken(id)!).ToArray());
    }

    [Theory]
    [MemberData(nameof(SentencePieceCases))]
    public void Encode_SentencePiece_MatchesMicrosoftMlTokenizers(int textIndex)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        using var stream = File.OpenRead(Path.Combine(dir.Path, "tokenizer.model"));
        var reference = LlamaTokenizer.Create(stream, addBeginOfSentence: true, addEndOfSentence: false);
        var text = TokenizerTestData.Texts[textIndex];

        var expected = reference.EncodeToIds(text);
        var actual = tokenizer.Encode(text);

        Assert.Equal(expected, actual);
    }

    public static TheoryData<int> SentencePieceCases()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < TokenizerTestData.Texts.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [InlineData(SyntheticTokenizerKind.SentencePiece)]
    [InlineData(SyntheticTokenizerKind.ByteLevelBpe)]
    [InlineData(SyntheticTokenizerKind.ChatMlBpe)]
    public void Decode_IdOutsideVocab_ThrowsArgumentExceptionNamingId(SyntheticTokenizerKind kind)
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, kind, TokenizerTestData.TargetVocab);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var bad = tokenizer.VocabSize + 7;

        var decode = Assert.Throws<ArgumentException>(() => tokenizer.Decode([5, bad]));
        var push = Assert.Throws<ArgumentException>(() => tokenizer.CreateDetokenizer().Push(-3));

        Assert.Contains(bad.ToString(), decode.Message);
        Assert.Contains("-3", push.Message);
    }

    [Theory]
    [InlineData(SyntheticTokenizerKind.SentencePiece)]
    [InlineData(SyntheticTokenizerKind.ByteLevelBpe)]
    [InlineData(SyntheticTokenizerKind.ChatMlBpe)]
    public void Write_SameArguments_ProducesIdenticalBytes(SyntheticTokenizerKind kind)
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();

        SyntheticTokenizerWriter.Write(a.Path, kind, 3000);
        SyntheticTokenizerWriter.Write(b.Path, kind, 3000);

        foreach (var file in Directory.GetFiles(a.Path))
        {
            var name = Path.GetFileName(file);
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(b.Path, name)));
        }
    }

    [Fact]
    public void Encode_SentencePieceText_UsesMultiCharPieces()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, 32000);
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var text = TokenizerTestData.Texts[0];

        var ids = tokenizer.Encode(text, addSpecialTokens: false);

        Assert.True(ids.Length < text.Length / 2, $"{ids.Length} tokens for {text.Length} chars");
    }
}

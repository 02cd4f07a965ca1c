using Inference.Worker.Loading;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

public sealed class ModelTokenizerLoadErrorTests
{
    [Fact]
    public void Load_NoTokenizerFiles_ThrowsNamingFolder()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.Equal(dir.Path, ex.File);
        Assert.Contains("no tokenizer found", ex.Message);
    }

    [Fact]
    public void Load_TokenizerJsonNotJson_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ByteLevelBpe, TokenizerTestData.TargetVocab);
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), "{ \"model\": { \"type\": \"BPE\", ");

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.EndsWith("tokenizer.json", ex.File);
    }

    [Fact]
    public void Load_TokenizerJsonBadMerges_ThrowsNamingFileAndField()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.ByteLevelBpe, TokenizerTestData.TargetVocab);
        var path = Path.Combine(dir.Path, "tokenizer.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"merges\": [", "\"merges\": [ 42, ", StringComparison.Ordinal));

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.EndsWith("tokenizer.json", ex.File);
        Assert.Equal("model.merges", ex.Field);
    }

    [Fact]
    public void Load_TokenizerModelNotProtobuf_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.model"), "this is not a protobuf");

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.EndsWith("tokenizer.model", ex.File);
    }

    [Fact]
    public void Load_TruncatedTokenizerModel_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        var path = Path.Combine(dir.Path, "tokenizer.model");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.EndsWith("tokenizer.model", ex.File);
    }

    [Fact]
    public void Load_BadTokenizerConfig_ThrowsNamingConfig()
    {
        using var dir = new TempDirectory();
        SyntheticTokenizerWriter.Write(dir.Path, SyntheticTokenizerKind.SentencePiece, TokenizerTestData.TargetVocab);
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer_config.json"), "{\"bos_token\": 5}");

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(dir.Path));

        Assert.EndsWith("tokenizer_config.json", ex.File);
        Assert.Equal("bos_token", ex.Field);
    }
}

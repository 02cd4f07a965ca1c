using System.Text;
using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

/// <summary>
/// Encode/decode against python3-sentencepiece on a real BPE model trained Llama-2 style
/// (TestData/tokenizers/sentencepiece-bpe; command in its README.md and golden.json).
/// </summary>
public sealed class SentencePieceGoldenTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "sentencepiece-bpe");

    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < LoadGolden().RootElement.GetProperty("cases").GetArrayLength(); i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encode_WithBos_MatchesSentencePiece(int index)
    {
        using var dir = MaterializeModel();
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var (text, expectedIds, _) = ReadCase(index);

        var ids = tokenizer.Encode(text, addSpecialTokens: true);

        Assert.True(tokenizer.AddBosToken);
        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal(expectedIds, ids);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_GoldenIds_MatchesSentencePiece(int index)
    {
        using var dir = MaterializeModel();
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var (_, ids, expected) = ReadCase(index);

        var text = tokenizer.Decode(ids, skipSpecialTokens: true);

        Assert.Equal(expected, text);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Detokenizer_GoldenIds_ConcatenationEqualsDecode(int index)
    {
        using var dir = MaterializeModel();
        var tokenizer = ModelTokenizer.Load(dir.Path);
        var (_, ids, expected) = ReadCase(index);
        var detokenizer = tokenizer.CreateDetokenizer(skipSpecialTokens: true);
        var builder = new StringBuilder();

        foreach (var id in ids)
        {
            builder.Append(detokenizer.Push(id));
        }

        builder.Append(detokenizer.Flush());
        Assert.Equal(expected, builder.ToString());
    }

    private static JsonDocument LoadGolden() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "golden.json")));

    private static (string Text, int[] Ids, string Decoded) ReadCase(int index)
    {
        using var golden = LoadGolden();
        var item = golden.RootElement.GetProperty("cases")[index];
        var ids = item.GetProperty("ids_with_bos").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return (item.GetProperty("text").GetString()!, ids, item.GetProperty("decoded").GetString()!);
    }

    /// <summary>The test project copies only *.json to its output, so tokenizer.model travels base64 inside JSON.</summary>
    private static TempDirectory MaterializeModel()
    {
        var dir = new TempDirectory();
        using var model = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "tokenizer_model.base64.json")));
        var bytes = Convert.FromBase64String(model.RootElement.GetProperty("tokenizer_model_base64").GetString()!);
        File.WriteAllBytes(Path.Combine(dir.Path, "tokenizer.model"), bytes);
        File.Copy(Path.Combine(Folder, "tokenizer_config.json"), Path.Combine(dir.Path, "tokenizer_config.json"));
        return dir;
    }
}

using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

internal static class TokenizerTestData
{
    public const int TargetVocab = 2000;

    public static readonly string[] Texts =
    [
        "Hello world, the quick brown fox jumps over the lazy dog.",
        "안녕하세요 세계",
        "你好，世界",
        "日本語のテキスト",
        "👋🏽 🚀",
        "family: 👨‍👩‍👧 done",
        "  two  spaces\tand\ttabs\nnew\n\nlines  \r\n end ",
        "Mixed: café 안녕 👋🏽 world! 123456 it's",
    ];

    public static TheoryData<SyntheticTokenizerKind, int> KindsAndTexts()
    {
        var data = new TheoryData<SyntheticTokenizerKind, int>();
        foreach (var kind in Enum.GetValues<SyntheticTokenizerKind>())
        {
            for (var i = 0; i < Texts.Length; i++)
            {
                data.Add(kind, i);
            }
        }

        return data;
    }
}

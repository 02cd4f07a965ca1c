using System.Text;
using Inference.Worker.Tests.Demo;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Tokenization;

/// <summary>Text generated after a prompt keeps its leading space: prompt text + deltas = decode(prompt + output).</summary>
public sealed class ContinuationDetokenizerTests
{
    [Theory]
    [InlineData("The jury said that", " the King was not a")]
    [InlineData("It was", " raining, (he said) in 1961")]
    public void CreateDetokenizer_AfterPrompt_DeltasContinueThePromptText(string prompt, string continuation)
    {
        ModelTokenizer tokenizer = ModelTokenizer.Load(BundledModel.Directory());
        int[] promptIds = tokenizer.Encode(prompt);
        int[] all = tokenizer.Encode(prompt + continuation);
        Assert.Equal(promptIds, all[..promptIds.Length]); // the split falls on a token boundary
        int[] output = all[promptIds.Length..];

        IncrementalDetokenizer detokenizer = tokenizer.CreateDetokenizer(true, promptIds);
        var text = new StringBuilder();
        foreach (int id in output)
        {
            text.Append(detokenizer.Push(id));
        }

        text.Append(detokenizer.Flush());

        Assert.Equal(tokenizer.Decode(all), tokenizer.Decode(promptIds) + text);
        Assert.StartsWith(" ", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CreateDetokenizer_PromptOfOnlySpecialTokens_StripsTheDummyPrefixLikeAWholeDecode()
    {
        ModelTokenizer tokenizer = ModelTokenizer.Load(BundledModel.Directory());
        int[] output = tokenizer.Encode("The jury", addSpecialTokens: false);

        IncrementalDetokenizer detokenizer = tokenizer.CreateDetokenizer(true, [tokenizer.BosTokenId!.Value]);
        string text = string.Concat(output.Select(detokenizer.Push)) + detokenizer.Flush();

        Assert.Equal("The jury", text);
    }
}

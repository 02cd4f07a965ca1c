using Inference.Trainer;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Demo;

/// <summary>The demo model's chat data: sentence splitting, conversations in the template, answers that obey their length instruction.</summary>
public sealed class ChatDataTests
{
    private static readonly string[] Nouns = ["farmer", "teacher", "river", "garden", "village", "doctor", "market", "window", "captain", "kitchen"];
    private static readonly string[] Places = ["town", "valley", "harbor", "school", "church", "station"];

    [Fact]
    public void SplitSentences_AbbreviationsAndInitials_StayInsideTheirSentence()
    {
        List<string> parts = ChatData.SplitSentences("Mr. Smith went to Washington. He said no! Did J. F. Kennedy agree? The U.S. Army came home.");

        Assert.Equal(["Mr. Smith went to Washington.", "He said no!", "Did J. F. Kennedy agree?", "The U.S. Army came home."], parts);
    }

    [Fact]
    public void NextConversation_Corpus_RendersTemplateWithAnswersOfWholeCorpusSentences()
    {
        ModelTokenizer tokenizer = ModelTokenizer.Load(BundledModel.Directory());
        (List<string> lines, int brown) = Corpus();
        var data = new ChatData(lines, brown, tokenizer, seed: 7);
        string corpus = string.Join(" ", lines);
        int lengthChecked = 0;
        int questions = 0;

        for (int i = 0; i < 400; i++)
        {
            List<ChatMessage> conversation = data.NextConversation();
            int[] ids = data.Encode(conversation);
            Assert.Equal(tokenizer.BosTokenId, ids[0]);
            Assert.Equal(tokenizer.EosTokenIds[0], ids[^1]);
            Assert.Equal("assistant", conversation[^1].Role);
            string? system = conversation[0].Role == "system" ? conversation[0].Content : null;
            foreach (ChatMessage answer in conversation.Where(m => m.Role == "assistant"))
            {
                foreach (string sentence in ChatData.SplitSentences(answer.Content))
                {
                    Assert.Contains(sentence, corpus, StringComparison.Ordinal);
                }

                int sentences = ChatEvaluation.SentenceCount(answer.Content);
                int? expected = system switch
                {
                    "Answer in one sentence." or "Reply in one sentence." or "Be brief." => 1,
                    "Answer in two sentences." => 2,
                    "Answer in three sentences." => 3,
                    _ => null,
                };
                if (expected is int n)
                {
                    Assert.True(sentences == n, $"'{system}' answered with {sentences} sentences: {answer.Content}");
                    lengthChecked++;
                }
                else if (system is null or "You are a helpful assistant." && !conversation.Any(m => m.Content.Contains("sentence", StringComparison.Ordinal) || m.Content.Contains("story", StringComparison.Ordinal)
                    || m.Content.Contains("short", StringComparison.Ordinal) || m.Content.Contains("paragraph", StringComparison.Ordinal) || m.Content.Contains("more than one", StringComparison.Ordinal)))
                {
                    int tokens = tokenizer.Encode(answer.Content, addSpecialTokens: false).Length;
                    Assert.True(tokens <= ChatData.DefaultAnswerTokens + 2, $"default answer of {tokens} tokens: {answer.Content}");
                }
            }

            // The corpus question is asked as it stands, its reply the sentence after it.
            if (conversation.Any(m => m.Role == "user" && m.Content.Contains("here did the old", StringComparison.Ordinal)))
            {
                questions++;
            }
        }

        Assert.True(lengthChecked >= 20, $"{lengthChecked} answers under a length instruction");
        Assert.True(questions > 0, "no conversation asked the corpus's question");
    }

    [Theory]
    [InlineData("The farmer went home.", false)]
    [InlineData("The farmer went home at noon.", true)]
    [InlineData(", and the farmer went home at noon.", false)]
    [InlineData("(:) what is the farmer doing now", false)]
    public void IsSentence_FiveWordsStartingWithALetter(string text, bool expected) =>
        Assert.Equal(expected, ChatEvaluation.IsSentence(text));

    [Theory]
    [InlineData("One. Two words here! And three?", 3)]
    [InlineData("No final mark here", 1)]
    [InlineData("It ended. Then it went on", 2)]
    public void SentenceCount_CountsRunsEndingWithMarks(string text, int expected) =>
        Assert.Equal(expected, ChatEvaluation.SentenceCount(text));

    // Brown-like paragraphs of six plain sentences (with a question and its reply), then single web-like sentences.
    private static (List<string> Lines, int Brown) Corpus()
    {
        var lines = new List<string>();
        for (int p = 0; p < 40; p++)
        {
            string noun = Nouns[p % Nouns.Length];
            string place = Places[p % Places.Length];
            lines.Add(
                $"The {noun} walked slowly to the {place} in the morning. Where did the old {noun} go after that? "
                + $"He went down to the {place} and waited for the others. The weather in the {place} was cold and grey. "
                + $"Everyone in the {place} knew the {noun} by name. They talked about the harvest until the evening came.");
        }

        int brown = lines.Count;
        for (int s = 0; s < 30; s++)
        {
            lines.Add($"I really like the {Nouns[s % Nouns.Length]} near my house in the {Places[s % Places.Length]}.");
        }

        return (lines, brown);
    }
}

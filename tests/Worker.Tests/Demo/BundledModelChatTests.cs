using System.Text.RegularExpressions;
using Inference.Scheduler;
using Inference.Trainer;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Tests.Demo;

/// <summary>
/// The bundled model chats: ordinary chat prompts through its own template and the product's engine are answered
/// with English sentences that end with EOS, a one-sentence system prompt is honoured, and its 1,024-token context
/// serves a 900-token prompt with the runtime matching the training forward at those positions.
/// </summary>
public sealed partial class BundledModelChatTests
{
    [DictionaryFact]
    public async Task ChatPrompts_GreedyAndSampled_AnsweredWithDictionarySentencesEndingWithEos()
    {
        IReadOnlyList<ChatAnswer> answers = await ChatEvaluation.RunAsync(BundledModel.Directory());
        ChatScores scores = ChatEvaluation.Score(answers, ChatEvaluation.LoadDictionary());
        string report = string.Join("\n", answers.Select(a => $"[{a.System}] {a.Prompt} ({a.Mode}, eos {a.EndedWithEos}): {a.Text}"));

        Assert.Equal(ChatEvaluation.Prompts.Count * ChatEvaluation.Modes.Count, scores.Answers);
        Assert.True(scores.SentenceFraction >= 0.8, $"{scores.Sentences} of {scores.Answers} answers are sentences\n{report}");
        Assert.True(scores.DictionaryFraction >= 0.9, $"{scores.DictionaryWords} of {scores.Words} words in the dictionary\n{report}");
        Assert.True(scores.EosFraction >= 0.8, $"{scores.EndedWithEos} of {scores.Answers} answers ended with EOS\n{report}");
        Assert.True(scores.OneSentenceHonoured >= 0.8 * scores.OneSentenceAnswers, $"{scores.OneSentenceHonoured} of {scores.OneSentenceAnswers} one-sentence answers\n{report}");
    }

    [Fact]
    public async Task ReadmeChatExample_Greedy_AnswersWithASentence()
    {
        // The README's first chat request, as a user would paste it.
        string readme = await File.ReadAllTextAsync(Path.Combine(BundledModel.Directory(), "..", "..", "README.md"));
        Match example = ReadmeChatContent().Match(readme);
        Assert.True(example.Success, "README.md has no /v1/chat/completions example with a user message");
        string prompt = example.Groups[1].Value;

        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = BundledModel.Directory(), KvCacheMemory = "16MiB" });
        int[] ids = runtime.Tokenizer.Encode(runtime.Tokenizer.ChatTemplate!.Render([new ChatMessage("user", prompt)]), addSpecialTokens: false);
        (string text, FinishReason finish, _) = await GenerateAsync(runtime, ids, maxTokens: 64);

        Assert.True(ChatEvaluation.IsSentence(text), $"'{prompt}' -> '{text}'");
        Assert.Equal(FinishReason.Stop, finish);
    }

    [Fact]
    public async Task LongPrompt_900Tokens_ServedWithinTheContext()
    {
        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = BundledModel.Directory(), KvCacheMemory = "16MiB" });
        Assert.Equal(1024, runtime.Config.MaxPositionEmbeddings);
        int[] ids = LongChatPrompt(runtime.Tokenizer, 900);
        Assert.InRange(ids.Length, 900, 960);

        (string text, FinishReason finish, RequestUsage usage) = await GenerateAsync(runtime, ids, maxTokens: 48);

        Assert.Equal(ids.Length, usage.PromptTokens);
        Assert.True(usage.CompletionTokens > 0, $"finish {finish}, text '{text}'");
        Assert.Contains(text, t => char.IsAsciiLetter(t));
    }

    [Fact]
    public void Forward_1000Tokens_RuntimeMatchesTrainingModuleAtLatePositions()
    {
        int[] ids = LongChatPrompt(ModelTokenizer.Load(BundledModel.Directory()), 1000)[..1000];

        // Prefill in chunks of 256 through the paged cache, as the engine's chunked prefill runs it.
        float maxDiff = BundledModelTests.MaxLogitDiff(ids, chunk: 256, from: 768);

        Assert.True(maxDiff < 1e-3f, $"max abs logit diff over positions 768-999: {maxDiff}");
    }

    // A user message of ordinary English that renders to at least `tokens` tokens through the chat template.
    private static int[] LongChatPrompt(ModelTokenizer tokenizer, int tokens)
    {
        var text = new System.Text.StringBuilder("Continue this text: ");
        int[] ids = [];
        for (int i = 0; ids.Length < tokens; i++)
        {
            text.Append(ChatEvaluation.Prompts[i % ChatEvaluation.Prompts.Count]).Append(' ');
            ids = tokenizer.Encode(tokenizer.ChatTemplate!.Render([new ChatMessage("user", text.ToString().Trim())]), addSpecialTokens: false);
        }

        return ids;
    }

    private static async Task<(string Text, FinishReason Finish, RequestUsage Usage)> GenerateAsync(ModelRuntime runtime, int[] prompt, int maxTokens)
    {
        using var engine = new EngineLoop(runtime, new EngineOptions(), TimeProvider.System, new Random(1));
        var request = new GenerationRequest { RequestId = "chat-test", PromptTokens = prompt, Sampling = new SamplingParams { MaxTokens = maxTokens, Temperature = 0 } };
        Assert.Null(engine.Submit(request, out GenerationStream? stream));
        var text = new System.Text.StringBuilder();
        FinishReason finish = FinishReason.None;
        RequestUsage? usage = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await foreach (GenerationDelta delta in stream!.ReadAllAsync(timeout.Token))
        {
            if (delta.Usage is { } u)
            {
                usage = u;
                continue;
            }

            Assert.True(delta.Choice >= 0, delta.Error);

            text.Append(delta.Text);
            if (delta.FinishReason != FinishReason.None)
            {
                finish = delta.FinishReason;
            }
        }

        Assert.NotNull(usage);
        return (text.ToString().Trim(), finish, usage);
    }

    [GeneratedRegex("/v1/chat/completions[^\\n]*\\n[^\\n]*\"messages\":\\[\\{\"role\":\"user\",\"content\":\"([^\"]+)\"")]
    private static partial Regex ReadmeChatContent();
}

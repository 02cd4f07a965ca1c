using System.Text.RegularExpressions;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Tokenization;

namespace Inference.Trainer;

/// <summary>One chat answer of the evaluation.</summary>
/// <param name="System">The system prompt, or null.</param>
/// <param name="Prompt">The user message.</param>
/// <param name="Mode">"greedy" or "T=0.8, top_p=0.9, seed N".</param>
/// <param name="Text">The answer's text.</param>
/// <param name="EndedWithEos">Whether generation ended with EOS rather than at max_tokens.</param>
/// <param name="Tokens">Completion tokens.</param>
public sealed record ChatAnswer(string? System, string Prompt, string Mode, string Text, bool EndedWithEos, int Tokens);

/// <summary>
/// The demo model's chat check: ordinary chat prompts served through the product's own engine and chat template
/// (greedy and sampled, max_tokens 64), and the measures the model card reports: the share of answers that are
/// sentences (at least 5 words, starting with a word), the share of answer words in a dictionary, the share that
/// end with EOS, and how many answers under "Answer in one sentence." are one sentence.
/// </summary>
public static partial class ChatEvaluation
{
    /// <summary>Where Debian's wamerican package puts its word list.</summary>
    public const string DictionaryPath = "/usr/share/dict/american-english";

    /// <summary>Most tokens per answer.</summary>
    public const int MaxTokens = 64;

    /// <summary>Twenty ordinary chat prompts, none of them from the training data.</summary>
    public static readonly IReadOnlyList<string> Prompts =
    [
        "Hello! How are you today?",
        "Tell me about the weather.",
        "What is your favorite food?",
        "Write a sentence about a dog.",
        "Can you tell me a story about a farmer?",
        "What do you think about music?",
        "Describe a cold winter morning.",
        "Why do people like to travel?",
        "What should I do this weekend?",
        "Tell me something about the city of Boston.",
        "How do you make a good cup of coffee?",
        "What is the best way to learn a new language?",
        "Give me some advice about school.",
        "What happened in the war?",
        "Who was the president of the United States?",
        "Tell me about your family.",
        "What do you know about the ocean?",
        "Describe the house where you grew up.",
        "What makes a good teacher?",
        "Can you explain how a car works?",
    ];

    /// <summary>The system prompt the one-sentence check uses.</summary>
    public const string OneSentenceSystem = "Answer in one sentence.";

    /// <summary>The modes each prompt is answered in: greedy, and sampled at the model's generation_config settings.</summary>
    public static readonly IReadOnlyList<(string Name, float Temperature, float TopP, ulong? Seed)> Modes =
    [
        ("greedy", 0f, 1f, null),
        ("T=0.8, top_p=0.9, seed 1", 0.8f, 0.9f, 1),
    ];

    /// <summary>
    /// Answers every prompt in every mode, and the first <paramref name="oneSentencePrompts"/> prompts greedily under
    /// <see cref="OneSentenceSystem"/>, all submitted at once to one engine over <paramref name="modelDir"/>.
    /// </summary>
    public static async Task<IReadOnlyList<ChatAnswer>> RunAsync(string modelDir, int oneSentencePrompts = 10, CancellationToken cancellationToken = default)
    {
        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = modelDir, KvCacheMemory = "64MiB" });
        ChatTemplate template = runtime.Tokenizer.ChatTemplate ?? throw new InvalidOperationException($"{modelDir} declares no chat template");
        using var engine = new EngineLoop(runtime, new EngineOptions(), TimeProvider.System, new Random(1));
        var jobs = new List<(string? System, string Prompt, string Mode, GenerationStream Stream)>();
        void Submit(string? system, string prompt, (string Name, float Temperature, float TopP, ulong? Seed) mode)
        {
            List<ChatMessage> messages = system is null ? [new("user", prompt)] : [new("system", system), new("user", prompt)];
            var request = new GenerationRequest
            {
                RequestId = $"chat-eval-{jobs.Count}",
                PromptTokens = runtime.Tokenizer.Encode(template.Render(messages), addSpecialTokens: false),
                Sampling = new SamplingParams { MaxTokens = MaxTokens, Temperature = mode.Temperature, TopP = mode.TopP, Seed = mode.Seed },
            };
            if (engine.Submit(request, out GenerationStream? stream) is Refusal refusal)
            {
                throw new InvalidOperationException($"the engine refused '{prompt}': {refusal.Message}");
            }

            jobs.Add((system, prompt, mode.Name, stream!));
        }

        foreach (string prompt in Prompts)
        {
            foreach (var mode in Modes)
            {
                Submit(null, prompt, mode);
            }
        }

        foreach (string prompt in Prompts.Take(oneSentencePrompts))
        {
            Submit(OneSentenceSystem, prompt, Modes[0]);
        }

        var answers = new List<ChatAnswer>();
        foreach ((string? system, string prompt, string mode, GenerationStream stream) in jobs)
        {
            var text = new System.Text.StringBuilder();
            bool eos = false;
            int tokens = 0;
            await foreach (GenerationDelta delta in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (delta.Usage is { } usage)
                {
                    tokens = usage.CompletionTokens;
                    continue;
                }

                if (delta.Choice < 0)
                {
                    throw new InvalidOperationException($"'{prompt}' failed: {delta.Error ?? delta.FinishReason.ToString()}");
                }

                text.Append(delta.Text);
                if (delta.FinishReason == FinishReason.Stop)
                {
                    eos = true;
                }
            }

            answers.Add(new ChatAnswer(system, prompt, mode, text.ToString().Trim(), eos, tokens));
        }

        return answers;
    }

    /// <summary>A sentence: at least 5 words, the first character a letter (not punctuation).</summary>
    public static bool IsSentence(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        return text.Length > 0 && char.IsLetter(text[0]) && Words(text).Count >= 5;
    }

    /// <summary>Sentences in the text: runs ending with ., ! or ? followed by a space or the end (a final run without one counts too).</summary>
    public static int SentenceCount(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SentenceRun().Count(text.Trim());
    }

    /// <summary>The words of a text: runs of letters with inner apostrophes (numbers and punctuation are not words).</summary>
    public static IReadOnlyList<string> Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return WordRun().Matches(text).Select(m => m.Value).ToList();
    }

    /// <summary>Reads a word list, one word per line.</summary>
    public static HashSet<string> LoadDictionary(string path = DictionaryPath) =>
        File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a word is in the list: as written, case-insensitively, or without a possessive 's.</summary>
    public static bool InDictionary(string word, HashSet<string> dictionary)
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(dictionary);
        return dictionary.Contains(word) || (word.EndsWith("'s", StringComparison.OrdinalIgnoreCase) && dictionary.Contains(word[..^2]));
    }

    /// <summary>The card's measures over the answers without a system prompt.</summary>
    public static ChatScores Score(IReadOnlyList<ChatAnswer> answers, HashSet<string> dictionary)
    {
        ArgumentNullException.ThrowIfNull(answers);
        List<ChatAnswer> plain = answers.Where(a => a.System is null).ToList();
        List<string> words = plain.SelectMany(a => Words(a.Text)).ToList();
        List<ChatAnswer> oneSentence = answers.Where(a => a.System == OneSentenceSystem).ToList();
        return new ChatScores(
            plain.Count,
            plain.Count(a => IsSentence(a.Text)),
            words.Count,
            words.Count(w => InDictionary(w, dictionary)),
            plain.Count(a => a.EndedWithEos),
            oneSentence.Count,
            oneSentence.Count(a => SentenceCount(a.Text) == 1 && IsSentence(a.Text)),
            plain.Count(a => SharesContentWord(a.Prompt, a.Text)),
            words.Where(w => !InDictionary(w, dictionary)).Distinct(StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// Whether the answer repeats a word of four or more letters from the prompt (case-insensitively, ignoring a
    /// final s): a rough sign that it follows on from the message rather than from nothing.
    /// </summary>
    public static bool SharesContentWord(string prompt, string answer)
    {
        static IEnumerable<string> Content(string text) =>
            Words(text).Where(w => w.Length >= 4).Select(w => w.ToLowerInvariant().TrimEnd('s')).Where(w => !CommonWords.Contains(w));
        return Content(prompt).Intersect(Content(answer), StringComparer.Ordinal).Any();
    }

    // Words too common to show that an answer follows on from its prompt.
    private static readonly HashSet<string> CommonWords = new(
        ["what", "that", "this", "with", "have", "your", "about", "tell", "some", "there", "their", "they", "from", "would", "could",
         "when", "where", "which", "make", "like", "good", "know", "think", "because", "been", "were", "will", "into", "then", "them", "than"],
        StringComparer.Ordinal);

    [GeneratedRegex(@"[^.!?]*[.!?]+(?=\s|$)|[^.!?]*\S[^.!?]*$")]
    private static partial Regex SentenceRun();

    [GeneratedRegex(@"[A-Za-z]+(?:'[A-Za-z]+)*")]
    private static partial Regex WordRun();
}

/// <summary>Counts behind the chat check's fractions.</summary>
public sealed record ChatScores(
    int Answers, int Sentences, int Words, int DictionaryWords, int EndedWithEos, int OneSentenceAnswers, int OneSentenceHonoured,
    int OnTopic, IReadOnlyList<string> Unknown)
{
    /// <summary>Answers that are sentences.</summary>
    public double SentenceFraction => (double)Sentences / Answers;

    /// <summary>Answer words in the dictionary.</summary>
    public double DictionaryFraction => Words == 0 ? 0 : (double)DictionaryWords / Words;

    /// <summary>Answers that ended with EOS.</summary>
    public double EosFraction => (double)EndedWithEos / Answers;
}

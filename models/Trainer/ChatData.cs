using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Inference.Worker.Tokenization;

namespace Inference.Trainer;

/// <summary>
/// Builds chat conversations from the plain-text corpus, so the demo model learns its chat template:
/// a request about a topic word answered by a corpus sentence that contains it, a question from Brown's
/// dialogue answered by the sentence that follows it, a passage continued by its next sentences, "tell me
/// more" follow-ups answered by the sentences after the last answer, and system prompts that set the
/// answer's length ("Answer in one sentence.", "Be brief.", "Answer in detail."). Every answer is a run
/// of whole corpus sentences ending with EOS. Deterministic for a given seed.
/// </summary>
public sealed partial class ChatData
{
    /// <summary>Most tokens in an answer without a length instruction, so a default answer ends with EOS within 64 tokens.</summary>
    public const int DefaultAnswerTokens = 56;

    private static readonly string[] TopicPrompts =
    [
        "Tell me about {0}.", "Tell me something about {0}.", "What can you tell me about {0}?", "What do you know about {0}?",
        "Write a sentence about {0}.", "Say something about {0}.", "Describe {0}.", "I'd like to hear about {0}.",
        "Talk to me about {0}.", "What do you think about {0}?", "Can you tell me about {0}?", "Please tell me about {0}.",
        "Write something about {0}.", "Give me a sentence about {0}.", "Use the word \"{1}\" in a sentence.", "What about {0}?",
        "Explain {0}.", "Let's talk about {0}.", "I have a question about {0}.", "Could you say something about {0}?",
        "What is there to say about {0}?", "Tell me a fact about {0}.", "Do you know anything about {0}?", "How would you describe {0}?",
        "I want to know about {0}.", "Write one line about {0}.", "What comes to mind when you think of {0}?", "Make a sentence with \"{1}\".",
    ];

    private static readonly string[] StoryPrompts =
    [
        "Tell me a story about {0}.", "Write a short story about {0}.", "Write a paragraph about {0}.", "Tell me more than one thing about {0}.",
    ];

    private static readonly string[] ContinuePrefixes =
    [
        "", "", "", "Continue this text: ", "Continue: ", "What comes next? ", "Finish this story: ", "Go on from here: ",
        "Please continue the passage.\n\n", "Read this and continue it.\n\n", "Write the next sentence.\n\n",
    ];

    private static readonly string[] FollowUps =
    [
        "Tell me more.", "Go on.", "And then?", "What else?", "Please continue.", "Can you say more?", "What happened next?",
        "Interesting. Tell me more.", "Keep going.", "More, please.",
    ];

    private static readonly string[] NeutralSystems =
    [
        "You are a helpful assistant.", "You are a friendly assistant.", "You are a helpful, respectful and honest assistant.",
        "You are a chatbot.", "You are an AI assistant. Answer the user's questions.", "You are a helpful assistant that answers in English.",
    ];

    // System prompts that set the answer length, with the number of sentences they ask for (0: brief, one short sentence; -1: detailed).
    private static readonly (string Text, int Sentences)[] LengthSystems =
    [
        ("Answer in one sentence.", 1), ("Reply in one sentence.", 1), ("Respond with a single sentence.", 1),
        ("Keep your answer to one sentence.", 1), ("Use only one sentence.", 1), ("You are a helpful assistant. Answer in one sentence.", 1),
        ("Answer in two sentences.", 2), ("Reply with two sentences.", 2), ("Answer in three sentences.", 3), ("Use three sentences.", 3),
        ("Be brief.", 0), ("Keep your answers short.", 0), ("Answer briefly.", 0),
        ("Answer in detail.", -1), ("Give a long, detailed answer.", -1),
    ];

    // User-turn length instructions: "{0}" is the request.
    private static readonly (string Format, int Sentences)[] LengthSuffixes =
    [
        ("{0} Answer in one sentence.", 1), ("In one sentence: {0}", 1), ("{0} Use two sentences.", 2), ("{0} Keep it short.", 0),
    ];

    private static readonly HashSet<string> Abbreviations = new(StringComparer.Ordinal)
    {
        "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Mt", "Gen", "Gov", "Sen", "Rep", "Lt", "Col", "Capt", "Prof", "Inc", "Co", "Corp",
        "Ltd", "No", "vs", "etc", "Ave", "Jan", "Feb", "Aug", "Sept", "Oct", "Nov", "Dec", "Rev", "Sgt", "Maj", "Fig", "Vol", "pp",
    };

    private static readonly HashSet<string> Determiners = new(StringComparer.Ordinal)
    {
        "the", "a", "an", "his", "her", "their", "its", "this", "that", "these", "those", "my", "our", "your", "every",
    };

    private static readonly HashSet<string> StopWords = new(
        ("the a an and or but if then than so as at by for from in into of on onto to with without about above after against "
        + "before below between during over under up down out off again further once here there when where why how all any both "
        + "each few more most other some such only own same too very can will just should would could might must shall may "
        + "is are was were be been being have has had having do does did doing i me my we our you your he him his she her it its "
        + "they them their what which who whom this that these those am not no nor also said says say made make makes come came "
        + "went goes going get got gets like well much many even still never ever always something nothing anything everything "
        + "thing things someone anyone everyone one two three first last next because while though although upon within around "
        + "through across toward towards among whether yet however rather quite almost perhaps really seems seemed take took "
        + "give gave know knew think thought look looked want wanted tell told time way ways years year now today").Split(' ', StringSplitOptions.RemoveEmptyEntries),
        StringComparer.Ordinal);

    private readonly List<Sentence> _sentences = [];
    private readonly List<int> _good = [];
    private readonly List<int> _questions = [];
    private readonly List<int> _brownGood = [];
    private readonly ModelTokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly Random _random;

    /// <param name="lines">Corpus lines: Brown paragraphs first (<paramref name="brownLines"/> of them), then single nlp-corpus sentences.</param>
    public ChatData(IReadOnlyList<string> lines, int brownLines, ModelTokenizer tokenizer, int seed)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _template = tokenizer.ChatTemplate ?? throw new ArgumentException("the tokenizer has no chat template", nameof(tokenizer));
        _random = new Random(seed);
        for (int line = 0; line < lines.Count; line++)
        {
            bool brown = line < brownLines;
            List<string> parts = brown ? SplitSentences(lines[line]) : [lines[line].Trim()];
            for (int i = 0; i < parts.Count; i++)
            {
                string text = Normalize(StripOuterQuotes(parts[i]));
                int index = _sentences.Count;
                bool good = IsGoodAnswer(text, out int tokens);
                _sentences.Add(new Sentence(text, line, brown, good, tokens));
                if (good)
                {
                    _good.Add(index);
                    if (brown)
                    {
                        _brownGood.Add(index);
                    }
                }

                if (brown && IsQuestion(text.Replace("\"", string.Empty, StringComparison.Ordinal)))
                {
                    _questions.Add(index);
                }
            }
        }
    }

    /// <summary>Sentences that may be answers.</summary>
    public int GoodSentences => _good.Count;

    /// <summary>Brown questions that may be asked.</summary>
    public int Questions => _questions.Count;

    /// <summary>One conversation: its messages, the last one the assistant's.</summary>
    public List<ChatMessage> NextConversation()
    {
        var messages = new List<ChatMessage>();
        int sentences = DefaultLengthMarker;
        double r = _random.NextDouble();
        if (r < 0.3)
        {
            (string text, int n) = LengthSystems[_random.Next(LengthSystems.Length)];
            messages.Add(new ChatMessage("system", text));
            sentences = n;
        }
        else if (r < 0.45)
        {
            messages.Add(new ChatMessage("system", NeutralSystems[_random.Next(NeutralSystems.Length)]));
        }

        int turns = _random.NextDouble() < 0.15 ? 2 + _random.Next(2) : 1;
        int last = -1;
        for (int turn = 0; turn < turns; turn++)
        {
            (string user, string answer, int end) = turn > 0 && _random.NextDouble() < 0.6
                ? FollowUp(last, sentences)
                : FirstTurn(sentences);
            messages.Add(new ChatMessage("user", user));
            messages.Add(new ChatMessage("assistant", answer));
            last = end;
        }

        return messages;
    }

    /// <summary>Token ids of a conversation as the model's chat template renders it (BOS before each user turn, EOS after each answer).</summary>
    public int[] Encode(IReadOnlyList<ChatMessage> conversation)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        return _tokenizer.Encode(_template.Render(conversation), addSpecialTokens: false);
    }

    // Marker for "no length instruction": one to three sentences within DefaultAnswerTokens.
    private const int DefaultLengthMarker = int.MinValue;

    private (string User, string Answer, int End) FirstTurn(int length)
    {
        double r = _random.NextDouble();
        return r < 0.5 ? Topic(length)
            : r < 0.65 && _questions.Count > 0 ? Question(length)
            : r < 0.95 ? Continuation(length, longPassage: false)
            : Continuation(length, longPassage: true);
    }

    private (string User, string Answer, int End) Topic(int length)
    {
        for (int attempt = 0; ; attempt++)
        {
            GiveUpAfter(attempt);
            bool story = length == DefaultLengthMarker && _random.NextDouble() < 0.08;
            int effective = story ? 3 : length;
            (string User, int Sentences)? suffix = null;
            if (length == DefaultLengthMarker && !story && _random.NextDouble() < 0.12)
            {
                (string f, int n) = LengthSuffixes[_random.Next(LengthSuffixes.Length)];
                suffix = (f, n);
                effective = n;
            }

            List<int> pool = effective is 2 or 3 or -1 ? _brownGood : _good;
            int start = pool[_random.Next(pool.Count)];
            if (!TryAnswer(start, effective, out string answer, out int end))
            {
                continue;
            }

            (string phrase, string word)? topic = PickTopic(_sentences[start].Text);
            if (topic is null)
            {
                continue;
            }

            string[] formats = story ? StoryPrompts : TopicPrompts;
            string user = string.Format(CultureInfo.InvariantCulture, formats[_random.Next(formats.Length)], topic.Value.phrase, topic.Value.word);
            if (suffix is { } s)
            {
                user = string.Format(CultureInfo.InvariantCulture, s.User, user);
            }

            return (Sloppy(user), answer, end);
        }
    }

    private (string User, string Answer, int End) Question(int length)
    {
        for (int attempt = 0; ; attempt++)
        {
            GiveUpAfter(attempt);
            int q = _questions[_random.Next(_questions.Count)];
            int start = q + 1;
            if (start >= _sentences.Count || !_sentences[start].Good || _sentences[start].Line > _sentences[q].Line + 1
                || !TryAnswer(start, length, out string answer, out int end))
            {
                continue;
            }

            return (Sloppy(_sentences[q].Text.Replace("\"", string.Empty, StringComparison.Ordinal).Trim()), answer, end);
        }
    }

    private (string User, string Answer, int End) Continuation(int length, bool longPassage)
    {
        for (int attempt = 0; ; attempt++)
        {
            GiveUpAfter(attempt);
            int start = _brownGood[_random.Next(_brownGood.Count)];
            int count = longPassage ? 12 + _random.Next(30) : 1 + _random.Next(4);
            int first = start - count;
            if (first < 0 || !_sentences[first].Brown || _sentences[start - 1].Line != _sentences[start].Line && _random.NextDouble() < 0.5)
            {
                continue;
            }

            if (!TryAnswer(start, length, out string answer, out int end))
            {
                continue;
            }

            var passage = new StringBuilder();
            int tokens = 0;
            for (int i = first; i < start; i++)
            {
                if (i > first)
                {
                    passage.Append(_sentences[i].Line != _sentences[i - 1].Line ? "\n" : " ");
                }

                passage.Append(_sentences[i].Text);
                tokens += _sentences[i].Tokens > 0 ? _sentences[i].Tokens : _sentences[i].Text.Length / 4;
            }

            if (tokens > 880)
            {
                continue;
            }

            return (ContinuePrefixes[_random.Next(ContinuePrefixes.Length)] + passage, answer, end);
        }
    }

    private (string User, string Answer, int End) FollowUp(int last, int length)
    {
        int start = last + 1;
        if (start < _sentences.Count && _sentences[start].Good && _sentences[start].Brown && TryAnswer(start, length, out string answer, out int end))
        {
            return (FollowUps[_random.Next(FollowUps.Length)], answer, end);
        }

        return FirstTurn(length);
    }

    // An answer of whole good sentences from start: `length` of them (0: one short one; -1: four or five; the
    // default marker: one to three within DefaultAnswerTokens).
    private bool TryAnswer(int start, int length, out string answer, out int end)
    {
        answer = string.Empty;
        end = start;
        int want = length switch
        {
            DefaultLengthMarker => _random.NextDouble() switch { < 0.55 => 1, < 0.9 => 2, _ => 3 },
            0 => 1,
            -1 => 4 + _random.Next(2),
            _ => length,
        };
        int budget = length == DefaultLengthMarker ? DefaultAnswerTokens : length == -1 ? 200 : 48 * want;
        var parts = new List<string>();
        int tokens = 0;
        for (int i = start; i < _sentences.Count && parts.Count < want; i++)
        {
            Sentence s = _sentences[i];
            if (!s.Good || (i > start && (!s.Brown || s.Line > _sentences[i - 1].Line + 1)))
            {
                break;
            }

            if (length == 0 && s.Text.Count(c => c == ' ') >= 14)
            {
                return false;
            }

            if (tokens + s.Tokens > budget)
            {
                break;
            }

            parts.Add(s.Text);
            tokens += s.Tokens;
            end = i;
        }

        // The default length may settle for fewer sentences; an instruction's count is exact.
        if (parts.Count == 0 || (length != DefaultLengthMarker && parts.Count != want))
        {
            return false;
        }

        answer = string.Join(' ', parts);
        return true;
    }

    // A topic from the sentence: a capitalized name inside it, or a noun phrase after a determiner (one or two
    // content words, with "the" or "a"/"an"), so the request names what the answer is about.
    private (string Phrase, string Word)? PickTopic(string sentence)
    {
        string[] words = sentence.Split(' ');
        var candidates = new List<(string, string)>();
        for (int i = 1; i < words.Length; i++)
        {
            string w = words[i].TrimEnd(',', '.', ';', ':', '!', '?');
            if (w.Length < 4 || !w.All(char.IsAsciiLetter))
            {
                continue;
            }

            string previous = words[i - 1].ToLowerInvariant();
            if (char.IsAsciiLetterUpper(w[0]))
            {
                if (!w.All(char.IsAsciiLetterUpper) && !words[i - 1].EndsWith('.'))
                {
                    candidates.Add((previous == "the" ? "the " + w : w, w));
                }

                continue;
            }

            if (!Determiners.Contains(previous) || !IsContentWord(w))
            {
                continue;
            }

            string phrase = w;
            string word = w;
            string next = i + 1 < words.Length ? words[i + 1] : string.Empty;
            if (words[i].Length == w.Length && next.Length >= 3 && next.TrimEnd(',', '.', ';', ':', '!', '?') is { } n
                && n.Length >= 3 && n.All(char.IsAsciiLetterLower) && IsContentWord(n))
            {
                phrase = w + " " + n;
                word = n;
            }

            string article = previous is "a" or "an" ? (IsVowel(phrase[0]) ? "an " : "a ") : "the ";
            candidates.Add((article + phrase, word));
        }

        return candidates.Count == 0 ? null : candidates[_random.Next(candidates.Count)];
    }

    private static bool IsContentWord(string w) =>
        w.All(char.IsAsciiLetterLower) && !StopWords.Contains(w) && !w.EndsWith("ly", StringComparison.Ordinal) && !w.EndsWith("ed", StringComparison.Ordinal);

    // Users type sloppily now and then: no capital, no final punctuation.
    private string Sloppy(string user)
    {
        double r = _random.NextDouble();
        if (r < 0.08)
        {
            user = char.ToLowerInvariant(user[0]) + user[1..];
        }
        else if (r < 0.14 && user.Length > 1 && user[^1] is '.' or '?')
        {
            user = user[..^1];
        }

        return user;
    }

    // The generators draw until a draw fits; a corpus too small or too odd for one would otherwise spin forever.
    private static void GiveUpAfter(int attempt)
    {
        if (attempt >= 100_000)
        {
            throw new InvalidOperationException("no conversation of this kind fits the corpus after 100,000 draws; it needs more Brown paragraphs with runs of plain sentences");
        }
    }

    private bool IsGoodAnswer(string text, out int tokens)
    {
        tokens = 0;
        if (text.Length < 10 || !char.IsAsciiLetterUpper(text[0]) || text[^1] is not ('.' or '!'))
        {
            return false;
        }

        int words = 1;
        int digits = 0;
        foreach (char c in text)
        {
            if (c == ' ')
            {
                words++;
            }
            else if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (!char.IsAsciiLetter(c) && c is not (',' or '.' or ';' or ':' or '\'' or '!' or '?' or '-'))
            {
                return false;
            }
        }

        if (words < 5 || words > 36 || digits > 4 || text.Contains("--", StringComparison.Ordinal) || text.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        tokens = _tokenizer.Encode(text, addSpecialTokens: false).Length;
        return tokens <= 48;
    }

    // The Brown rebuild doubles some marks ("??", ";;", "!!"); answers should not learn them.
    private static string Normalize(string text) =>
        text.Replace("??", "?", StringComparison.Ordinal).Replace(";;", ";", StringComparison.Ordinal).Replace("!!", "!", StringComparison.Ordinal);

    private static bool IsQuestion(string text)
    {
        int words = text.Count(c => c == ' ') + 1;
        return text.Length > 8 && text[^1] == '?' && char.IsAsciiLetterUpper(text[0]) && words is >= 3 and <= 25 && !text.Contains('"');
    }

    private static string StripOuterQuotes(string text)
    {
        text = text.Trim();
        if (text.Length > 2 && text[0] == '"' && text[^1] == '"' && text.IndexOf('"', 1) == text.Length - 1)
        {
            return text[1..^1].Trim();
        }

        return text;
    }

    /// <summary>Splits a paragraph after ., ! or ? (and a closing quote) followed by a capital, except after abbreviations and initials.</summary>
    public static List<string> SplitSentences(string paragraph)
    {
        ArgumentNullException.ThrowIfNull(paragraph);
        var result = new List<string>();
        int begin = 0;
        foreach (Match m in SentenceEnd().Matches(paragraph))
        {
            int endOfSentence = m.Index + m.Length;
            string before = paragraph[begin..endOfSentence].TrimEnd();
            int lastSpace = before.LastIndexOf(' ');
            string lastWord = before[(lastSpace + 1)..].TrimEnd('.', '"', '\'');
            if (Abbreviations.Contains(lastWord) || (lastWord.Length == 1 && char.IsAsciiLetterUpper(lastWord[0])) || lastWord.Contains('.'))
            {
                continue;
            }

            result.Add(before.Trim());
            begin = endOfSentence;
        }

        if (begin < paragraph.Length && paragraph[begin..].Trim() is { Length: > 0 } rest)
        {
            result.Add(rest);
        }

        return result;
    }

    private static bool IsVowel(char c) => "aeiou".Contains(c, StringComparison.Ordinal);

    [GeneratedRegex("[.!?][\"']?(?= +[\"'(]?[A-Z])")]
    private static partial Regex SentenceEnd();

    private sealed record Sentence(string Text, int Line, bool Brown, bool Good, int Tokens);
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inference.Worker.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json byte-level BPE (Llama 3, Qwen2): text is split by the pre-tokenizer
/// regex, each piece's UTF-8 bytes are mapped through the GPT-2 alphabet, then merged by merge rank.
/// </summary>
internal sealed class ByteLevelBpeModel : ISegmentEncoder
{
    /// <summary>GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex=true.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabLookup;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeRankLookup;
    private readonly Regex? _split;
    private readonly bool _addPrefixSpace;
    private readonly bool _ignoreMerges;
    private readonly bool _normalizeNfc;

    private ByteLevelBpeModel(
        Dictionary<string, int> vocab, Dictionary<string, int> mergeRanks, Regex? split, bool addPrefixSpace,
        bool ignoreMerges, bool normalizeNfc, List<AddedToken> addedTokens, JsonElement? postProcessor)
    {
        _vocab = vocab;
        _vocabLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _mergeRankLookup = mergeRanks.GetAlternateLookup<ReadOnlySpan<char>>();
        _split = split;
        _addPrefixSpace = addPrefixSpace;
        _ignoreMerges = ignoreMerges;
        _normalizeNfc = normalizeNfc;
        AddedTokens = addedTokens;
        PostProcessorBos = FindPostProcessorBos(postProcessor);
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public List<AddedToken> AddedTokens { get; }

    /// <summary>The special token a TemplateProcessing post-processor puts before $A (Llama 3's BOS), if any.</summary>
    public string? PostProcessorBos { get; }

    /// <summary>
    /// Reads a tokenizer.json. Returns null when it is valid JSON but not byte-level BPE (e.g. Llama 2's
    /// Metaspace tokenizer.json), so the caller can fall back to tokenizer.model.
    /// Throws <see cref="TokenizerFormatException"/> naming the field when it is byte-level BPE but malformed.
    /// </summary>
    public static ByteLevelBpeModel? TryParse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException("model", "missing the \"model\" object");
        }

        var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var decoderType = root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object
            && decoder.TryGetProperty("type", out var dt) ? dt.GetString() : null;
        if (type != "BPE" || decoderType != "ByteLevel")
        {
            return null;
        }

        var vocab = ReadVocab(model);
        var mergeRanks = ReadMerges(model, vocab);
        var (split, addPrefixSpace) = ReadPreTokenizer(root);
        foreach (var (_, c) in ByteLevelAlphabet.InVocabularyOrder())
        {
            if (!vocab.ContainsKey(c.ToString()))
            {
                throw new TokenizerFormatException("model.vocab", $"byte-level vocabulary lacks the byte token '{c}'");
            }
        }

        var ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
        var normalizeNfc = root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object
            && normalizer.TryGetProperty("type", out var nt) && nt.GetString() == "NFC";
        var added = ReadAddedTokens(root);
        JsonElement? post = root.TryGetProperty("post_processor", out var p) && p.ValueKind == JsonValueKind.Object ? p : null;
        return new ByteLevelBpeModel(vocab, mergeRanks, split, addPrefixSpace, ignoreMerges, normalizeNfc, added, post);
    }

    public void EncodeSegment(string text, List<int> output)
    {
        if (_normalizeNfc)
        {
            text = text.Normalize(NormalizationForm.FormC);
        }

        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ')
        {
            text = " " + text;
        }

        if (_split is null)
        {
            EncodeWord(text, output);
            return;
        }

        // Split with behavior "Isolated": matches and the gaps between them are separate pre-tokens.
        var position = 0;
        foreach (var match in _split.EnumerateMatches(text))
        {
            if (match.Index > position)
            {
                EncodeWord(text.AsSpan(position, match.Index - position), output);
            }

            if (match.Length > 0)
            {
                EncodeWord(text.AsSpan(match.Index, match.Length), output);
            }

            position = match.Index + match.Length;
        }

        if (position < text.Length)
        {
            EncodeWord(text.AsSpan(position), output);
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        var byteCount = Encoding.UTF8.GetByteCount(word);
        var bytes = new byte[byteCount];
        Encoding.UTF8.GetBytes(word, bytes);
        var mapped = new char[byteCount];
        for (var i = 0; i < byteCount; i++)
        {
            mapped[i] = ByteLevelAlphabet.ByteToChar(bytes[i]);
        }

        if (_ignoreMerges && _vocabLookup.TryGetValue(mapped, out var whole))
        {
            output.Add(whole);
            return;
        }

        var count = mapped.Length;
        var start = new int[count];
        var length = new int[count];
        var next = new int[count];
        var prev = new int[count];
        for (var s = 0; s < count; s++)
        {
            start[s] = s;
            length[s] = 1;
            prev[s] = s - 1;
            next[s] = s + 1 < count ? s + 1 : -1;
        }

        // Lowest merge rank first, then leftmost (tokenizers' BPE word merge order).
        var agenda = new PriorityQueue<(int Left, int Right, int MergedLength), (int Rank, int Left)>();
        var key = new char[count + 1];
        for (var s = 0; s + 1 < count; s++)
        {
            TryAddCandidate(mapped, key, s, s + 1, start, length, agenda);
        }

        while (agenda.TryDequeue(out var candidate, out _))
        {
            var (left, right, mergedLength) = candidate;
            if (length[left] == 0 || length[right] == 0 || next[left] != right || length[left] + length[right] != mergedLength)
            {
                continue;
            }

            length[left] = mergedLength;
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = left;
            }

            if (prev[left] >= 0)
            {
                TryAddCandidate(mapped, key, prev[left], left, start, length, agenda);
            }

            if (next[left] >= 0)
            {
                TryAddCandidate(mapped, key, left, next[left], start, length, agenda);
            }
        }

        for (var s = 0; s >= 0; s = next[s])
        {
            var symbol = mapped.AsSpan(start[s], length[s]);
            if (_vocabLookup.TryGetValue(symbol, out var id))
            {
                output.Add(id);
            }
            else
            {
                // A merge whose result is missing from vocab: fall back to the single byte tokens, all present.
                foreach (var c in symbol)
                {
                    output.Add(_vocabLookup[new ReadOnlySpan<char>(in c)]);
                }
            }
        }
    }

    private void TryAddCandidate(
        char[] mapped, char[] key, int left, int right, int[] start, int[] length,
        PriorityQueue<(int, int, int), (int, int)> agenda)
    {
        // Merge keys are "left right"; byte-level symbols never contain a plain space (it maps to Ġ).
        var l = length[left];
        var r = length[right];
        mapped.AsSpan(start[left], l).CopyTo(key);
        key[l] = ' ';
        mapped.AsSpan(start[right], r).CopyTo(key.AsSpan(l + 1));
        if (_mergeRankLookup.TryGetValue(key.AsSpan(0, l + r + 1), out var rank))
        {
            agenda.Enqueue((left, right, l + r), (rank, left));
        }
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model)
    {
        if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException("model.vocab", "expected an object of token -> id");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new TokenizerFormatException("model.vocab", $"token '{entry.Name}' has no valid id");
            }

            vocab[entry.Name] = id;
        }

        return vocab;
    }

    private static Dictionary<string, int> ReadMerges(JsonElement model, Dictionary<string, int> vocab)
    {
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!model.TryGetProperty("merges", out var merges))
        {
            return ranks;
        }

        if (merges.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException("model.merges", "expected an array");
        }

        var rank = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            string? left = null, right = null;
            if (merge.ValueKind == JsonValueKind.String)
            {
                var text = merge.GetString()!;
                var space = text.IndexOf(' ', 1);
                if (space > 0)
                {
                    left = text[..space];
                    right = text[(space + 1)..];
                }
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                left = merge[0].GetString();
                right = merge[1].GetString();
            }

            if (string.IsNullOrEmpty(left) || string.IsNullOrEmpty(right))
            {
                throw new TokenizerFormatException("model.merges", $"merge #{rank} is neither \"a b\" nor [\"a\", \"b\"]");
            }

            if (!vocab.ContainsKey(left + right))
            {
                throw new TokenizerFormatException("model.merges", $"merge #{rank} produces '{left + right}', which is not in the vocabulary");
            }

            ranks.TryAdd(left + " " + right, rank);
            rank++;
        }

        return ranks;
    }

    private static (Regex? Split, bool AddPrefixSpace) ReadPreTokenizer(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind == JsonValueKind.Null)
        {
            return (null, false);
        }

        Regex? split = null;
        var addPrefixSpace = false;
        var steps = pre.TryGetProperty("type", out var type) && type.GetString() == "Sequence"
            && pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray()]
            : new[] { pre };
        foreach (var step in steps)
        {
            var stepType = step.TryGetProperty("type", out var st) ? st.GetString() : null;
            switch (stepType)
            {
                case "Split":
                    if (split is not null)
                    {
                        throw new TokenizerFormatException("pre_tokenizer", "more than one Split step is not supported");
                    }

                    split = ReadSplit(step);
                    break;
                case "ByteLevel":
                    addPrefixSpace = step.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True;
                    var useRegex = !step.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False;
                    if (useRegex && split is null)
                    {
                        split = CreateRegex(Gpt2Pattern);
                    }

                    break;
                default:
                    throw new TokenizerFormatException("pre_tokenizer", $"pre-tokenizer type '{stepType}' is not supported (expected Split and ByteLevel)");
            }
        }

        return (split, addPrefixSpace);
    }

    private static Regex ReadSplit(JsonElement step)
    {
        var behavior = step.TryGetProperty("behavior", out var b) ? b.GetString() : "Isolated";
        var invert = step.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True;
        if (behavior != "Isolated" || invert)
        {
            throw new TokenizerFormatException("pre_tokenizer", $"Split behavior '{behavior}' (invert={invert}) is not supported; only Isolated");
        }

        if (!step.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException("pre_tokenizer.pattern", "missing");
        }

        if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            return CreateRegex(regex.GetString()!);
        }

        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
        {
            return CreateRegex(Regex.Escape(literal.GetString()!));
        }

        throw new TokenizerFormatException("pre_tokenizer.pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }

    private static Regex CreateRegex(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException ex)
        {
            throw new TokenizerFormatException("pre_tokenizer.pattern", $"not a valid regular expression: {ex.Message}");
        }
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root)
    {
        var result = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind == JsonValueKind.Null)
        {
            return result;
        }

        if (added.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException("added_tokens", "expected an array");
        }

        foreach (var token in added.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var idValue) || idValue < 0
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new TokenizerFormatException("added_tokens", "each entry needs an integer \"id\" and a string \"content\"");
            }

            var special = token.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            result.Add(new AddedToken(idValue, content.GetString()!, special));
        }

        return result;
    }

    private static string? FindPostProcessorBos(JsonElement? postProcessor)
    {
        if (postProcessor is not { } post)
        {
            return null;
        }

        if (post.TryGetProperty("type", out var type) && type.GetString() == "Sequence"
            && post.TryGetProperty("processors", out var processors) && processors.ValueKind == JsonValueKind.Array)
        {
            foreach (var processor in processors.EnumerateArray())
            {
                if (FindPostProcessorBos(processor) is { } bos)
                {
                    return bos;
                }
            }

            return null;
        }

        if (!post.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array || single.GetArrayLength() == 0)
        {
            return null;
        }

        var first = single[0];
        return first.ValueKind == JsonValueKind.Object && first.TryGetProperty("SpecialToken", out var st)
            && st.ValueKind == JsonValueKind.Object && st.TryGetProperty("id", out var stId) && stId.ValueKind == JsonValueKind.String
            ? stId.GetString()
            : null;
    }
}

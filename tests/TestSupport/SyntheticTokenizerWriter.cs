using System.Text;
using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.TestSupport;

/// <summary>
/// Writes real tokenizer files (tokenizer.model or tokenizer.json, tokenizer_config.json,
/// generation_config.json) for generated model folders, so tests and benchmarks run the production
/// loading path. Output is deterministic: the same arguments give byte-identical files.
/// </summary>
public static class SyntheticTokenizerWriter
{
    public const string Llama3Template =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        + "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    public const string Qwen2Template =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
        + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his",
        "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were",
        "we", "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if",
        "will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
        "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could",
        "people", "my", "than", "first", "water", "been", "call", "who", "now", "find", "long", "down", "day", "did",
        "get", "come", "made", "may", "part", "hello", "world", "model", "token", "text", "quick", "brown", "fox",
        "jumps", "over", "lazy", "dog", "question", "answer", "assistant", "user", "system", "helpful", "please",
        "thank", "yes", "good", "new", "work", "know", "think", "tell", "story", "once", "upon", "little", "there",
    ];

    /// <summary>
    /// Writes the tokenizer files of <paramref name="kind"/> into <paramref name="dir"/> (created if needed)
    /// with about <paramref name="targetVocabSize"/> tokens, and returns the tokenizer's final vocab size
    /// (ids 0..size-1, added tokens included). A model's vocab_size may be larger than this.
    /// </summary>
    public static int Write(string dir, SyntheticTokenizerKind kind, int targetVocabSize)
    {
        ArgumentNullException.ThrowIfNull(dir);
        Directory.CreateDirectory(dir);
        return kind switch
        {
            SyntheticTokenizerKind.SentencePiece => WriteSentencePiece(dir, targetVocabSize),
            SyntheticTokenizerKind.ByteLevelBpe => WriteByteLevel(dir, targetVocabSize, chatMl: false),
            SyntheticTokenizerKind.ChatMlBpe => WriteByteLevel(dir, targetVocabSize, chatMl: true),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown tokenizer kind"),
        };
    }

    private static IEnumerable<string> WordForms()
    {
        foreach (var word in Words)
        {
            yield return word;
            yield return char.ToUpperInvariant(word[0]) + word[1..];
        }
    }

    /// <summary>Lowercase letter strings of length 2, 3, 4 in order: filler merges past the word list.</summary>
    private static IEnumerable<string> FillerStrings()
    {
        for (var length = 2; length <= 4; length++)
        {
            var count = (int)Math.Pow(26, length);
            for (var n = 0; n < count; n++)
            {
                var chars = new char[length];
                var v = n;
                for (var i = length - 1; i >= 0; i--)
                {
                    chars[i] = (char)('a' + v % 26);
                    v /= 26;
                }

                yield return new string(chars);
            }
        }
    }

    private static int WriteSentencePiece(string dir, int targetVocabSize)
    {
        const char space = SentencePieceModel.SpaceSymbol;
        var characters = new List<string> { space.ToString() };
        for (var c = '!'; c <= '~'; c++)
        {
            characters.Add(c.ToString());
        }

        var minimum = 3 + 256 + characters.Count;
        if (targetVocabSize < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(targetVocabSize), targetVocabSize, $"a SentencePiece vocabulary needs at least {minimum} pieces");
        }

        // Merged pieces: every ▁-prefix of each word form (so BPE can build the word left to right), then filler.
        var seen = new HashSet<string>(characters, StringComparer.Ordinal);
        var merged = new List<string>();
        var budget = targetVocabSize - minimum;
        foreach (var word in WordForms())
        {
            var full = space + word;
            for (var length = 2; length <= full.Length && merged.Count < budget; length++)
            {
                if (seen.Add(full[..length]))
                {
                    merged.Add(full[..length]);
                }
            }
        }

        foreach (var filler in FillerStrings())
        {
            if (merged.Count >= budget)
            {
                break;
            }

            if (seen.Add(filler))
            {
                merged.Add(filler);
            }
        }

        var model = new ProtobufWriter();
        void AddPiece(string piece, float score, SentencePiecePieceType type)
        {
            var p = new ProtobufWriter();
            p.WriteStringField(1, piece);
            p.WriteFloatField(2, score);
            p.WriteVarintField(3, (ulong)type);
            model.WriteBytesField(1, p.ToArray());
        }

        AddPiece("<unk>", 0, SentencePiecePieceType.Unknown);
        AddPiece("<s>", 0, SentencePiecePieceType.Control);
        AddPiece("</s>", 0, SentencePiecePieceType.Control);
        for (var b = 0; b < 256; b++)
        {
            AddPiece($"<0x{b:X2}>", 0, SentencePiecePieceType.Byte);
        }

        // Scores fall with position, as sentencepiece's trainer writes them: earlier merges win.
        var score = 0f;
        foreach (var piece in merged)
        {
            AddPiece(piece, score--, SentencePiecePieceType.Normal);
        }

        foreach (var piece in characters)
        {
            AddPiece(piece, score--, SentencePiecePieceType.Normal);
        }

        var trainer = new ProtobufWriter();
        trainer.WriteVarintField(3, 2); // model_type = BPE
        trainer.WriteVarintField(4, (ulong)(minimum + merged.Count)); // vocab_size
        trainer.WriteBoolField(35, true); // byte_fallback
        trainer.WriteVarintField(40, 0); // unk_id
        trainer.WriteVarintField(41, 1); // bos_id
        trainer.WriteVarintField(42, 2); // eos_id
        trainer.WriteVarintField(43, ulong.MaxValue); // pad_id = -1 (int32 negative: 10-byte varint)
        trainer.WriteStringField(45, "<unk>");
        trainer.WriteStringField(46, "<s>");
        trainer.WriteStringField(47, "</s>");
        trainer.WriteStringField(48, "<pad>");
        model.WriteBytesField(2, trainer.ToArray());

        var normalizer = new ProtobufWriter();
        normalizer.WriteStringField(1, "identity");
        normalizer.WriteBoolField(3, true); // add_dummy_prefix
        normalizer.WriteBoolField(4, false); // remove_extra_whitespaces (Llama 2 keeps whitespace)
        normalizer.WriteBoolField(5, true); // escape_whitespaces
        model.WriteBytesField(3, normalizer.ToArray());

        File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), model.ToArray());
        WriteJson(Path.Combine(dir, "tokenizer_config.json"), w =>
        {
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteStartObject("bos_token");
            w.WriteString("content", "<s>");
            w.WriteBoolean("special", true);
            w.WriteEndObject();
            w.WriteString("eos_token", "</s>");
            w.WriteString("unk_token", "<unk>");
            w.WriteString("chat_template", ChatTemplate.Llama2Text);
            w.WriteString("tokenizer_class", "LlamaTokenizer");
        });
        WriteJson(Path.Combine(dir, "generation_config.json"), w =>
        {
            w.WriteNumber("bos_token_id", 1);
            w.WriteNumber("eos_token_id", 2);
        });
        return minimum + merged.Count;
    }

    private static int WriteByteLevel(string dir, int targetVocabSize, bool chatMl)
    {
        string[] specials = chatMl
            ? ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            : ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
        var minimum = 256 + specials.Length;
        if (targetVocabSize < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(targetVocabSize), targetVocabSize, $"a byte-level vocabulary needs at least {minimum} tokens");
        }

        var vocab = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, c) in ByteLevelAlphabet.InVocabularyOrder())
        {
            vocab.Add(c.ToString());
            seen.Add(c.ToString());
        }

        // Left-to-right merge chains for each word, with and without the leading space (Ġ).
        var merges = new List<(string Left, string Right)>();
        var budget = targetVocabSize - minimum;
        var spaceChar = ByteLevelAlphabet.ByteToChar((byte)' ');
        void AddChain(string word)
        {
            var current = word[..1];
            for (var i = 1; i < word.Length && merges.Count < budget; i++)
            {
                var next = current + word[i];
                if (seen.Add(next))
                {
                    merges.Add((current, word[i].ToString()));
                    vocab.Add(next);
                }

                current = next;
            }
        }

        foreach (var word in WordForms())
        {
            AddChain(spaceChar + word);
            AddChain(word);
        }

        foreach (var filler in FillerStrings())
        {
            if (merges.Count >= budget)
            {
                break;
            }

            AddChain(filler);
        }

        WriteJson(Path.Combine(dir, "tokenizer.json"), w =>
        {
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (var i = 0; i < specials.Length; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", vocab.Count + i);
                w.WriteString("content", specials[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", chatMl ? Qwen2Pattern : Llama3Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", !chatMl);
            w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("post_processor");
            if (chatMl)
            {
                w.WriteString("type", "ByteLevel");
                w.WriteBoolean("add_prefix_space", false);
                w.WriteBoolean("trim_offsets", false);
                w.WriteBoolean("use_regex", false);
            }
            else
            {
                w.WriteString("type", "TemplateProcessing");
                w.WriteStartArray("single");
                w.WriteStartObject();
                w.WriteStartObject("SpecialToken");
                w.WriteString("id", specials[0]);
                w.WriteNumber("type_id", 0);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject();
                w.WriteStartObject("Sequence");
                w.WriteString("id", "A");
                w.WriteNumber("type_id", 0);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", !chatMl);
            w.WriteStartObject("vocab");
            for (var id = 0; id < vocab.Count; id++)
            {
                w.WriteNumber(vocab[id], id);
            }

            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (left, right) in merges)
            {
                // Llama 3 files carry "a b" strings, newer Qwen2 files [a, b] pairs: write one of each.
                if (chatMl)
                {
                    w.WriteStartArray();
                    w.WriteStringValue(left);
                    w.WriteStringValue(right);
                    w.WriteEndArray();
                }
                else
                {
                    w.WriteStringValue(left + " " + right);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

        var first = vocab.Count;
        WriteJson(Path.Combine(dir, "tokenizer_config.json"), w =>
        {
            if (chatMl)
            {
                w.WriteNull("bos_token");
                w.WriteString("eos_token", "<|im_end|>");
                w.WriteString("pad_token", "<|endoftext|>");
                w.WriteString("chat_template", Qwen2Template);
                w.WriteString("tokenizer_class", "Qwen2Tokenizer");
            }
            else
            {
                w.WriteString("bos_token", "<|begin_of_text|>");
                w.WriteString("eos_token", "<|eot_id|>");
                w.WriteString("chat_template", Llama3Template);
                w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            }
        });
        WriteJson(Path.Combine(dir, "generation_config.json"), w =>
        {
            w.WriteNumber("bos_token_id", first);
            w.WriteStartArray("eos_token_id");
            if (chatMl)
            {
                w.WriteNumberValue(first + 2); // <|im_end|>
                w.WriteNumberValue(first); // <|endoftext|>
            }
            else
            {
                w.WriteNumberValue(first + 1); // <|end_of_text|>
                w.WriteNumberValue(first + 4); // <|eot_id|>
            }

            w.WriteEndArray();
        });
        return first + specials.Length;
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        File.WriteAllBytes(path, stream.ToArray());
    }
}

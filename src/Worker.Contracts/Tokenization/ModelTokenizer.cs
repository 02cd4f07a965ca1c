using System.Buffers;
using System.Text;
using System.Text.Json;
using Inference.Worker.Loading;

namespace Inference.Worker.Tokenization;

/// <summary>
/// The tokenizer of a Hugging Face model folder: SentencePiece BPE (tokenizer.model: Llama 2, Mistral,
/// TinyLlama) or byte-level BPE (tokenizer.json: Llama 3, Qwen2), plus the special-token settings of
/// tokenizer_config.json / generation_config.json / config.json and the chat template. Thread-safe after Load.
/// </summary>
/// <remarks>
/// Our own rather than Microsoft.ML.Tokenizers: one loader for both model families reading the folder the way
/// Hugging Face does (added and special tokens, byte fallback, the EOS list across three files), errors that name
/// the file and field, and an incremental detokenizer that never splits a UTF-8 character in a stream. The tests
/// cross-check it against Microsoft.ML.Tokenizers and golden encodings (only the test project references it).
/// </remarks>
public sealed partial class ModelTokenizer
{
    private readonly ISegmentEncoder _encoder;
    private readonly AddedTokenMatcher _matcher;
    private readonly TokenTable _table;
    private readonly int? _appendEosId;

    private ModelTokenizer(
        ISegmentEncoder encoder, AddedTokenMatcher matcher, TokenTable table, int? bosTokenId, bool addBosToken,
        int? appendEosId, IReadOnlyList<int> eosTokenIds, ChatTemplate? chatTemplate)
    {
        _encoder = encoder;
        _matcher = matcher;
        _table = table;
        _appendEosId = appendEosId;
        BosTokenId = bosTokenId;
        AddBosToken = addBosToken;
        EosTokenIds = eosTokenIds;
        ChatTemplate = chatTemplate;
    }

    /// <summary>Number of token ids, added tokens included (one past the highest id).</summary>
    public int VocabSize => _table.Count;

    /// <summary>The beginning-of-sequence token id, when the model has one.</summary>
    public int? BosTokenId { get; }

    /// <summary>Ids that end generation: generation_config.json first, then config.json, then tokenizer_config.json's eos_token.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Whether <see cref="Encode"/> prepends <see cref="BosTokenId"/> when asked for special tokens.</summary>
    public bool AddBosToken { get; }

    /// <summary>The chat template the folder declares (or the override), null when none.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>
    /// Encodes text. Added and special tokens written literally (e.g. "&lt;|im_start|&gt;", "&lt;s&gt;") become their
    /// single ids. With <paramref name="addSpecialTokens"/>, BOS is prepended when <see cref="AddBosToken"/>
    /// (and EOS appended when tokenizer_config.json sets add_eos_token). Encode a rendered chat prompt with
    /// <paramref name="addSpecialTokens"/> false: the template already wrote BOS.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && AddBosToken && BosTokenId is { } bos)
        {
            output.Add(bos);
        }

        _matcher.Encode(text, _encoder, output);
        if (addSpecialTokens && _appendEosId is { } eos)
        {
            output.Add(eos);
        }

        return [.. output];
    }

    /// <summary>
    /// Decodes ids to text; an incomplete or invalid UTF-8 sequence becomes U+FFFD.
    /// Throws <see cref="ArgumentException"/> naming the id when one is outside the vocabulary.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(16, ids.Length * 4));
        try
        {
            var length = 0;
            var started = false;
            foreach (var id in ids)
            {
                var bytes = _table.OutputBytes(id, skipSpecialTokens, ref started);
                if (length + bytes.Length > buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + bytes.Length));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                bytes.CopyTo(buffer.AsSpan(length));
                length += bytes.Length;
            }

            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True for control/special tokens (BOS, EOS, &lt;unk&gt;, chat markers) that skipSpecialTokens drops.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_table.Count && _table.Special[id];

    /// <summary>The token as written in the vocabulary (SentencePiece piece with ▁, byte-level string, or added token), null when unknown.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_table.Count ? _table.Pieces[id] : null;

    /// <summary>The raw bytes of one token as it would appear in output (leading space included), empty when unknown.</summary>
    public byte[] TokenBytes(int id) => (uint)id < (uint)_table.Count ? _table.Bytes[id] ?? [] : [];

    /// <summary>A streaming detokenizer for one sequence; not thread-safe, one per sequence.</summary>
    public IncrementalDetokenizer CreateDetokenizer(bool skipSpecialTokens = true) => new(_table, skipSpecialTokens);

    /// <summary>
    /// A streaming detokenizer for text generated after <paramref name="prompt"/>: when the prompt already
    /// produced output text, the SentencePiece dummy-prefix rule no longer applies, so the first generated
    /// token keeps its leading space (decode(prompt + output) = decode(prompt) + deltas).
    /// </summary>
    public IncrementalDetokenizer CreateDetokenizer(bool skipSpecialTokens, IReadOnlyList<int> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        bool started = false;
        foreach (int id in prompt)
        {
            if ((uint)id < (uint)_table.Count && _table.Bytes[id] is { Length: > 0 } && !(skipSpecialTokens && _table.Special[id]))
            {
                started = true;
                break;
            }
        }

        return new IncrementalDetokenizer(_table, skipSpecialTokens, started);
    }
}

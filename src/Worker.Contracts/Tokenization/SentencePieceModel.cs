using System.Globalization;
using System.Text;

namespace Inference.Worker.Tokenization;

/// <summary>
/// A SentencePiece BPE model (tokenizer.model) as Llama 2, Mistral and TinyLlama ship it: score-ordered
/// merges over characters, ▁ for spaces, a dummy-prefix ▁, and byte-fallback pieces for anything else.
/// </summary>
internal sealed class SentencePieceModel : ISegmentEncoder
{
    public const char SpaceSymbol = '\u2581';

    // Field numbers from sentencepiece_model.proto.
    private const int ModelPiecesField = 1;
    private const int ModelTrainerSpecField = 2;
    private const int ModelNormalizerSpecField = 3;
    private const int PiecePieceField = 1;
    private const int PieceScoreField = 2;
    private const int PieceTypeField = 3;
    private const int TrainerModelTypeField = 3;
    private const int TrainerByteFallbackField = 35;
    private const int TrainerUnkIdField = 40;
    private const int TrainerBosIdField = 41;
    private const int TrainerEosIdField = 42;
    private const int NormalizerNameField = 1;
    private const int NormalizerAddDummyPrefixField = 3;
    private const int NormalizerRemoveExtraWhitespacesField = 4;
    private const int NormalizerEscapeWhitespacesField = 5;
    private const int ModelTypeBpe = 2;

    private readonly Dictionary<string, int> _pieceToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieceLookup;
    private readonly int[] _byteToId;

    private SentencePieceModel(
        string[] pieces, float[] scores, SentencePiecePieceType[] types, bool byteFallback,
        bool addDummyPrefix, bool removeExtraWhitespaces, bool escapeWhitespaces, int unkId, int bosId, int eosId)
    {
        Pieces = pieces;
        Scores = scores;
        Types = types;
        ByteFallback = byteFallback;
        AddDummyPrefix = addDummyPrefix;
        RemoveExtraWhitespaces = removeExtraWhitespaces;
        EscapeWhitespaces = escapeWhitespaces;
        UnkId = unkId;
        BosId = bosId;
        EosId = eosId;

        _pieceToId = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        _byteToId = new int[256];
        Array.Fill(_byteToId, -1);
        for (var id = 0; id < pieces.Length; id++)
        {
            switch (types[id])
            {
                case SentencePiecePieceType.Normal or SentencePiecePieceType.UserDefined or SentencePiecePieceType.Unused:
                    _pieceToId.TryAdd(pieces[id], id);
                    break;
                case SentencePiecePieceType.Byte when TryParseBytePiece(pieces[id], out var b):
                    _byteToId[b] = id;
                    break;
            }
        }

        _pieceLookup = _pieceToId.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string[] Pieces { get; }
    public float[] Scores { get; }
    public SentencePiecePieceType[] Types { get; }
    public bool ByteFallback { get; }
    public bool AddDummyPrefix { get; }
    public bool RemoveExtraWhitespaces { get; }
    public bool EscapeWhitespaces { get; }
    public int UnkId { get; }
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>Parses a serialized ModelProto; throws <see cref="InvalidDataException"/> with the reason when it is not one.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<SentencePiecePieceType>();
        var modelType = 1; // proto default: UNIGRAM
        var byteFallback = false;
        var addDummyPrefix = true;
        var removeExtraWhitespaces = true;
        var escapeWhitespaces = true;
        int unkId = 0, bosId = 1, eosId = 2;
        string? normalizerName = null;

        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == ModelPiecesField && wire == 2)
            {
                var (piece, score, type) = ParsePiece(reader.ReadLengthDelimited());
                pieces.Add(piece);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == ModelTrainerSpecField && wire == 2)
            {
                var trainer = new ProtobufReader(reader.ReadLengthDelimited());
                while (trainer.TryReadTag(out var f, out var w))
                {
                    if (w != 0)
                    {
                        trainer.Skip(w);
                        continue;
                    }

                    var value = trainer.ReadVarint();
                    switch (f)
                    {
                        case TrainerModelTypeField: modelType = (int)value; break;
                        case TrainerByteFallbackField: byteFallback = value != 0; break;
                        case TrainerUnkIdField: unkId = (int)value; break;
                        case TrainerBosIdField: bosId = (int)value; break;
                        case TrainerEosIdField: eosId = (int)value; break;
                    }
                }
            }
            else if (field == ModelNormalizerSpecField && wire == 2)
            {
                var normalizer = new ProtobufReader(reader.ReadLengthDelimited());
                while (normalizer.TryReadTag(out var f, out var w))
                {
                    if (f == NormalizerNameField && w == 2)
                    {
                        normalizerName = normalizer.ReadString();
                    }
                    else if (w == 0 && f is NormalizerAddDummyPrefixField or NormalizerRemoveExtraWhitespacesField or NormalizerEscapeWhitespacesField)
                    {
                        var on = normalizer.ReadVarint() != 0;
                        switch (f)
                        {
                            case NormalizerAddDummyPrefixField: addDummyPrefix = on; break;
                            case NormalizerRemoveExtraWhitespacesField: removeExtraWhitespaces = on; break;
                            default: escapeWhitespaces = on; break;
                        }
                    }
                    else
                    {
                        normalizer.Skip(w);
                    }
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }

        if (pieces.Count == 0)
        {
            throw new InvalidDataException("the model has no pieces");
        }

        if (modelType != ModelTypeBpe)
        {
            throw new InvalidDataException($"trainer_spec.model_type is {modelType}; only BPE (2) is supported");
        }

        if (normalizerName is not null and not "identity" and not "")
        {
            // Llama-family models use identity; NFKC rule tables (precompiled_charsmap) are not implemented.
            throw new InvalidDataException($"normalizer_spec.name '{normalizerName}' is not supported; only 'identity'");
        }

        // A bad ModelProto can name ids outside the vocabulary; -1 (disabled) is legal.
        if (unkId >= pieces.Count || bosId >= pieces.Count || eosId >= pieces.Count)
        {
            throw new InvalidDataException("trainer_spec unk_id/bos_id/eos_id lies outside the pieces");
        }

        return new SentencePieceModel(
            [.. pieces], [.. scores], [.. types], byteFallback, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, unkId, bosId, eosId);
    }

    public static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public void EncodeSegment(string text, List<int> output)
    {
        var normalized = Normalize(text);
        if (normalized.Length == 0)
        {
            return;
        }

        // One symbol per Unicode scalar; symbols stay contiguous substrings, so a merge is a longer substring.
        var count = 0;
        var start = new int[normalized.Length];
        var length = new int[normalized.Length];
        for (var i = 0; i < normalized.Length; i++)
        {
            var width = char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length && char.IsLowSurrogate(normalized[i + 1]) ? 2 : 1;
            start[count] = i;
            length[count] = width;
            count++;
            i += width - 1;
        }

        var next = new int[count];
        var prev = new int[count];
        for (var s = 0; s < count; s++)
        {
            prev[s] = s - 1;
            next[s] = s + 1 < count ? s + 1 : -1;
        }

        // Highest score first, then leftmost: sentencepiece's bpe_model.cc agenda order.
        var agenda = new PriorityQueue<(int Left, int Right, int MergedLength), (float NegScore, int Left)>();
        for (var s = 0; s + 1 < count; s++)
        {
            TryAddCandidate(normalized, s, s + 1, start, length, agenda);
        }

        while (agenda.TryDequeue(out var candidate, out _))
        {
            var (left, right, mergedLength) = candidate;
            if (length[left] == 0 || length[right] == 0 || next[left] != right || length[left] + length[right] != mergedLength)
            {
                continue; // stale: one side was merged away since this candidate was queued
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
                TryAddCandidate(normalized, prev[left], left, start, length, agenda);
            }

            if (next[left] >= 0)
            {
                TryAddCandidate(normalized, left, next[left], start, length, agenda);
            }
        }

        Span<byte> utf8 = stackalloc byte[4];
        for (var s = 0; s >= 0; s = next[s])
        {
            var symbol = normalized.AsSpan(start[s], length[s]);
            if (_pieceLookup.TryGetValue(symbol, out var id) && Types[id] != SentencePiecePieceType.Unused)
            {
                output.Add(id);
            }
            else if (ByteFallback)
            {
                foreach (var rune in symbol.EnumerateRunes())
                {
                    var written = rune.EncodeToUtf8(utf8);
                    for (var b = 0; b < written; b++)
                    {
                        output.Add(_byteToId[utf8[b]] >= 0 ? _byteToId[utf8[b]] : UnkId);
                    }
                }
            }
            else
            {
                output.Add(UnkId);
            }
        }
    }

    /// <summary>Decoded bytes of piece <paramref name="id"/> (▁ becomes a space; byte pieces become their byte).</summary>
    public byte[] PieceBytes(int id)
    {
        var piece = Pieces[id];
        return Types[id] switch
        {
            SentencePiecePieceType.Byte when TryParseBytePiece(piece, out var b) => [b],
            _ => Encoding.UTF8.GetBytes(piece.Replace(SpaceSymbol, ' ')),
        };
    }

    private string Normalize(string text)
    {
        if (RemoveExtraWhitespaces)
        {
            text = CollapseSpaces(text);
        }

        if (text.Length == 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 1);
        if (AddDummyPrefix)
        {
            builder.Append(EscapeWhitespaces ? SpaceSymbol : ' ');
        }

        builder.Append(text);
        if (EscapeWhitespaces)
        {
            builder.Replace(' ', SpaceSymbol);
        }

        return builder.ToString();
    }

    private static string CollapseSpaces(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.AsSpan().Trim(' '))
        {
            if (c != ' ' || builder.Length == 0 || builder[^1] != ' ')
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private void TryAddCandidate(
        string normalized, int left, int right, int[] start, int[] length,
        PriorityQueue<(int, int, int), (float, int)> agenda)
    {
        var mergedLength = length[left] + length[right];
        if (_pieceLookup.TryGetValue(normalized.AsSpan(start[left], mergedLength), out var id) && Types[id] != SentencePiecePieceType.Unused)
        {
            agenda.Enqueue((left, right, mergedLength), (-Scores[id], left));
        }
    }

    private static (string Piece, float Score, SentencePiecePieceType Type) ParsePiece(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        string? piece = null;
        var score = 0f;
        var type = SentencePiecePieceType.Normal;
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == PiecePieceField && wire == 2)
            {
                piece = reader.ReadString();
            }
            else if (field == PieceScoreField && wire == 5)
            {
                score = reader.ReadFloat();
            }
            else if (field == PieceTypeField && wire == 0)
            {
                var value = (int)reader.ReadVarint();
                if (value is < 1 or > 6)
                {
                    throw new InvalidDataException($"piece type {value} is not a SentencePiece type");
                }

                type = (SentencePiecePieceType)value;
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return (piece ?? throw new InvalidDataException("a piece has no text"), score, type);
    }
}

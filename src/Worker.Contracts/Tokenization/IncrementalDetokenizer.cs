using System.Text;

namespace Inference.Worker.Tokenization;

/// <summary>
/// Turns a stream of generated token ids into text deltas for one sequence. Works on bytes: each id adds
/// its raw bytes, and a trailing incomplete UTF-8 sequence is held back until the next token completes it,
/// so a delta never splits a character (byte-fallback pieces, byte-level partial bytes). The deltas of
/// all pushes plus <see cref="Flush"/> equal <see cref="ModelTokenizer.Decode"/> of the same ids exactly; a
/// detokenizer that continues a prompt's text keeps the first token's leading space (as vLLM does: the
/// completion of "The jury said that" is " the ...", and prompt + completion reads right).
/// Not thread-safe: one instance per sequence.
/// </summary>
public sealed class IncrementalDetokenizer
{
    private readonly TokenTable _table;
    private readonly bool _skipSpecialTokens;
    private byte[] _pending = new byte[16];
    private int _pendingLength;
    private bool _started;

    internal IncrementalDetokenizer(TokenTable table, bool skipSpecialTokens, bool continuesText = false)
    {
        _table = table;
        _skipSpecialTokens = skipSpecialTokens;
        _started = continuesText;
    }

    /// <summary>
    /// Adds one token and returns the text it completes (possibly empty). Throws <see cref="ArgumentException"/>
    /// naming the id when it is outside the vocabulary; the detokenizer is unchanged then.
    /// </summary>
    public string Push(int tokenId)
    {
        var bytes = _table.OutputBytes(tokenId, _skipSpecialTokens, ref _started);
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        if (_pendingLength + bytes.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + bytes.Length));
        }

        bytes.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += bytes.Length;

        var complete = CompleteLength(_pending.AsSpan(0, _pendingLength));
        if (complete == 0)
        {
            return string.Empty;
        }

        var text = Encoding.UTF8.GetString(_pending, 0, complete);
        _pending.AsSpan(complete, _pendingLength - complete).CopyTo(_pending);
        _pendingLength -= complete;
        return text;
    }

    /// <summary>Ends the stream: returns held-back bytes, an incomplete UTF-8 sequence becoming U+FFFD as in Decode.</summary>
    public string Flush()
    {
        if (_pendingLength == 0)
        {
            return string.Empty;
        }

        var text = Encoding.UTF8.GetString(_pending, 0, _pendingLength);
        _pendingLength = 0;
        return text;
    }

    /// <summary>
    /// How many leading bytes can be decoded now. The tail held back is a proper prefix of a valid
    /// multi-byte sequence starting at a lead byte; because the decoder always restarts at a lead byte,
    /// decoding the two parts separately gives the same text (including U+FFFD placement) as decoding them together.
    /// </summary>
    internal static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        var n = bytes.Length;
        var limit = Math.Min(3, n);
        for (var back = 1; back <= limit; back++)
        {
            var b = bytes[n - back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var needed = b switch
            {
                >= 0xC2 and <= 0xDF => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 1,
            };
            if (needed <= back)
            {
                return n;
            }

            if (back >= 2)
            {
                var second = bytes[n - back + 1];
                var valid = b switch
                {
                    0xE0 => second >= 0xA0,
                    0xED => second <= 0x9F,
                    0xF0 => second >= 0x90,
                    0xF4 => second <= 0x8F,
                    _ => true,
                };
                if (!valid)
                {
                    return n;
                }
            }

            return n - back;
        }

        return n;
    }
}

namespace Inference.Worker.Tokenization;

/// <summary>
/// What each token id decodes to, as raw bytes. Decoding by bytes (not strings) is what lets the
/// streaming detokenizer hold back a partial UTF-8 character and still match a whole-sequence decode.
/// </summary>
internal sealed class TokenTable
{
    public TokenTable(byte[]?[] bytes, string?[] pieces, bool[] special, bool stripFirstSpace)
    {
        Bytes = bytes;
        Pieces = pieces;
        Special = special;
        StripFirstSpace = stripFirstSpace;
    }

    /// <summary>Decoded bytes per id; null for ids that have no token (holes in the id space).</summary>
    public byte[]?[] Bytes { get; }

    /// <summary>The token as written in the vocabulary (piece, byte-level string or added token content).</summary>
    public string?[] Pieces { get; }

    public bool[] Special { get; }

    /// <summary>SentencePiece with add_dummy_prefix: the first decoded space is the dummy prefix and is dropped.</summary>
    public bool StripFirstSpace { get; }

    public int Count => Bytes.Length;

    /// <summary>
    /// The bytes token <paramref name="id"/> adds to the output. <paramref name="started"/> tracks whether any
    /// output byte was produced yet; the dummy-prefix space is only ever the very first output byte
    /// (Hugging Face's Strip decoder on the fused string).
    /// </summary>
    public ReadOnlySpan<byte> OutputBytes(int id, bool skipSpecialTokens, ref bool started)
    {
        var bytes = (uint)id < (uint)Bytes.Length ? Bytes[id] : null;
        if (bytes is null)
        {
            throw new ArgumentException($"token id {id} is not in the tokenizer vocabulary (size {Bytes.Length})", nameof(id));
        }

        if (skipSpecialTokens && Special[id])
        {
            return default;
        }

        if (bytes.Length == 0 || started)
        {
            return bytes;
        }

        started = true;
        return StripFirstSpace && bytes[0] == (byte)' ' ? bytes.AsSpan(1) : bytes;
    }
}

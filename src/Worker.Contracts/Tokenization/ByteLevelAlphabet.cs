namespace Inference.Worker.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character mapping used by byte-level BPE (Llama 3, Qwen2): printable
/// Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards, so every token is text.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByteTable = BuildCharToByte();

    public static char ByteToChar(byte value) => ByteToCharTable[value];

    public static bool TryCharToByte(char c, out byte value) => CharToByteTable.TryGetValue(c, out value);

    /// <summary>The 256 byte characters in GPT-2 vocabulary order (printable ranges first).</summary>
    public static IEnumerable<(byte Byte, char Char)> InVocabularyOrder()
    {
        var printable = new List<byte>();
        for (var b = 0; b < 256; b++)
        {
            if (IsPrintable(b))
            {
                printable.Add((byte)b);
            }
        }

        foreach (var b in printable)
        {
            yield return (b, ByteToCharTable[b]);
        }

        for (var b = 0; b < 256; b++)
        {
            if (!IsPrintable(b))
            {
                yield return ((byte)b, ByteToCharTable[b]);
            }
        }
    }

    private static bool IsPrintable(int b) =>
        (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            table[b] = IsPrintable(b) ? (char)b : (char)(256 + next++);
        }

        return table;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (var b = 0; b < 256; b++)
        {
            map[ByteToCharTable[b]] = (byte)b;
        }

        return map;
    }
}

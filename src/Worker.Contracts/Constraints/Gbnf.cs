using System.Globalization;
using System.Text;

namespace Inference.Worker.Constraints;

/// <summary>Writes GBNF syntax: quoted literals and character classes with every unsafe character escaped.</summary>
internal static class Gbnf
{
    /// <summary>A string literal matching exactly <paramref name="text"/>.</summary>
    public static string Literal(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (Rune rune in text.EnumerateRunes())
        {
            AppendChar(sb, rune.Value, inClass: false);
        }

        return sb.Append('"').ToString();
    }

    /// <summary>A class of the flattened inclusive ranges [lo0, hi0, lo1, hi1, ...].</summary>
    public static string Class(int[] ranges)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < ranges.Length; i += 2)
        {
            AppendChar(sb, ranges[i], inClass: true);
            if (ranges[i + 1] != ranges[i])
            {
                sb.Append('-');
                AppendChar(sb, ranges[i + 1], inClass: true);
            }
        }

        return sb.Append(']').ToString();
    }

    private static void AppendChar(StringBuilder sb, int cp, bool inClass)
    {
        switch (cp)
        {
            case '"':
                sb.Append("\\\"");
                return;
            case '\\':
                sb.Append("\\\\");
                return;
            case '\n':
                sb.Append("\\n");
                return;
            case '\r':
                sb.Append("\\r");
                return;
            case '\t':
                sb.Append("\\t");
                return;
            case ']' or '[' or '-' or '^' when inClass:
                sb.Append('\\').Append((char)cp);
                return;
        }

        if (cp < 0x20 || cp == 0x7F || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0xFFFF)
        {
            sb.Append(cp <= 0xFF ? "\\x" + cp.ToString("X2", CultureInfo.InvariantCulture)
                : cp <= 0xFFFF ? "\\u" + cp.ToString("X4", CultureInfo.InvariantCulture)
                : "\\U" + cp.ToString("X8", CultureInfo.InvariantCulture));
            return;
        }

        sb.Append((char)cp);
    }
}

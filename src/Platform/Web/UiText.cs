using System.Collections.Concurrent;
using System.Globalization;

namespace Inference.Platform.Web;

/// <summary>
/// The dashboard's UI text in English (the key) and Korean, picked by the request's language (from
/// Accept-Language, see <see cref="PrefersKorean"/>). A key without a Korean text falls back to English and is recorded in <see cref="Missing"/>,
/// which the tests require to stay empty.
/// </summary>
public static partial class UiText
{
    private static readonly ConcurrentDictionary<string, byte> MissingKeys = new(StringComparer.Ordinal);

    /// <summary>Keys asked for in Korean that have no Korean text.</summary>
    public static IReadOnlyCollection<string> Missing => MissingKeys.Keys.ToList();

    // The request's language, set by WebSetup's middleware for each page request. Not CultureInfo: the product runs
    // with invariant globalization (no ICU), and numbers and dates are written the same in both languages.
    private static readonly AsyncLocal<bool> Korean_ = new();

    /// <summary>True when the current request's UI language is Korean.</summary>
    public static bool IsKorean
    {
        get => Korean_.Value;
        internal set => Korean_.Value = value;
    }

    /// <summary>
    /// True when Korean ranks above English in an Accept-Language header (RFC 9110 section 12.5.4: q-values, then
    /// order); a header naming neither means English.
    /// </summary>
    public static bool PrefersKorean(string? acceptLanguage)
    {
        if (string.IsNullOrWhiteSpace(acceptLanguage))
        {
            return false;
        }

        double korean = -1, english = -1;
        int order = 0, koreanOrder = int.MaxValue, englishOrder = int.MaxValue;
        foreach (string part in acceptLanguage.Split(','))
        {
            string[] pieces = part.Split(';');
            string tag = pieces[0].Trim().ToLowerInvariant();
            double q = 1;
            foreach (string parameter in pieces.Skip(1))
            {
                string p = parameter.Trim();
                if (p.StartsWith("q=", StringComparison.Ordinal) && double.TryParse(p[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed))
                {
                    q = parsed;
                }
            }

            string primary = tag.Split('-')[0];
            if (q > 0 && primary == "ko" && q > korean)
            {
                (korean, koreanOrder) = (q, order);
            }
            else if (q > 0 && (primary == "en" || primary == "*") && q > english)
            {
                (english, englishOrder) = (q, order);
            }

            order++;
        }

        return korean > english || (korean >= 0 && korean == english && koreanOrder < englishOrder);
    }

    /// <summary>The text for <paramref name="english"/> in the request's language.</summary>
    public static string T(string english)
    {
        if (!IsKorean)
        {
            return english;
        }

        if (Korean.TryGetValue(english, out string? korean))
        {
            return korean;
        }

        MissingKeys.TryAdd(english, 0);
        return english;
    }

    /// <summary>The text with {0}, {1}... replaced.</summary>
    public static string T(string english, params object[] args) => string.Format(CultureInfo.InvariantCulture, T(english), args);

    /// <summary>The html lang attribute of the page.</summary>
    public static string Lang => IsKorean ? "ko" : "en";
}

namespace Inference.Platform.Billing;

/// <summary>Money arithmetic in decimal, rounded to whole won half away from zero (never floating point).</summary>
public static class Money
{
    /// <summary>The price of <paramref name="tokens"/> at <paramref name="per1kKrw"/> won per 1,000 tokens, in whole won.</summary>
    public static long TokensPrice(long tokens, long per1kKrw) =>
        (long)decimal.Round(tokens * (decimal)per1kKrw / 1000m, 0, MidpointRounding.AwayFromZero);

    /// <summary>Formats whole won as "30,000 KRW".</summary>
    public static string Format(long krw) => krw.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture) + " KRW";
}

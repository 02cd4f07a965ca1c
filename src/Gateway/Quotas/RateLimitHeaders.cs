using System.Globalization;
using System.Text;

namespace Inference.Gateway.Quotas;

/// <summary>
/// Values of OpenAI's x-ratelimit-* response headers. Each pair comes from the most constrained scope (key or
/// tenant) that has that per-minute limit; null when neither has one (then the header is left out).
/// Reset is the time until the oldest request still counted in the 60-second window leaves it.
/// </summary>
public sealed record RateLimitHeaders(
    long? LimitRequests,
    long? RemainingRequests,
    TimeSpan? ResetRequests,
    long? LimitTokens,
    long? RemainingTokens,
    TimeSpan? ResetTokens)
{
    /// <summary>No per-minute limit applies.</summary>
    public static RateLimitHeaders None { get; } = new(null, null, null, null, null, null);

    /// <summary>Header names and values to add to the response, in a stable order; only those with a value.</summary>
    public IEnumerable<KeyValuePair<string, string>> ToHeaders()
    {
        if (LimitRequests is { } limitRequests)
        {
            yield return new("x-ratelimit-limit-requests", limitRequests.ToString(CultureInfo.InvariantCulture));
            yield return new("x-ratelimit-remaining-requests", (RemainingRequests ?? 0).ToString(CultureInfo.InvariantCulture));
            yield return new("x-ratelimit-reset-requests", FormatDuration(ResetRequests ?? TimeSpan.Zero));
        }

        if (LimitTokens is { } limitTokens)
        {
            yield return new("x-ratelimit-limit-tokens", limitTokens.ToString(CultureInfo.InvariantCulture));
            yield return new("x-ratelimit-remaining-tokens", (RemainingTokens ?? 0).ToString(CultureInfo.InvariantCulture));
            yield return new("x-ratelimit-reset-tokens", FormatDuration(ResetTokens ?? TimeSpan.Zero));
        }
    }

    /// <summary>
    /// A duration as OpenAI writes it (Go's format): "120ms" under a second, else whole seconds rounded up
    /// as "1s", "59s", "6m0s", "1h2m3s".
    /// </summary>
    public static string FormatDuration(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return "0s";
        }

        if (duration < TimeSpan.FromSeconds(1))
        {
            var ms = (long)Math.Ceiling(duration.TotalMilliseconds);
            return ms >= 1000 ? "1s" : ms.ToString(CultureInfo.InvariantCulture) + "ms";
        }

        var seconds = (long)Math.Ceiling(duration.TotalSeconds);
        var builder = new StringBuilder();
        if (seconds >= 3600)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{seconds / 3600}h");
        }

        if (seconds >= 60)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{seconds / 60 % 60}m");
        }

        builder.Append(CultureInfo.InvariantCulture, $"{seconds % 60}s");
        return builder.ToString();
    }
}

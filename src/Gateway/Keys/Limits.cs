namespace Inference.Gateway.Keys;

/// <summary>
/// Usage limits for one API key or one tenant. Every field is optional: <see langword="null"/> means unlimited.
/// Per-minute limits are enforced over a sliding 60-second window; budgets per UTC day and UTC month.
/// </summary>
/// <param name="RequestsPerMinute">Requests admitted in any 60-second window.</param>
/// <param name="TokensPerMinute">Tokens (prompt + max_tokens reserved, then actual) in any 60-second window.</param>
/// <param name="ConcurrentRequests">Requests in flight at once.</param>
/// <param name="DailyTokens">Tokens per UTC day.</param>
/// <param name="MonthlyTokens">Tokens per UTC calendar month.</param>
public sealed record Limits(
    int? RequestsPerMinute = null,
    long? TokensPerMinute = null,
    int? ConcurrentRequests = null,
    long? DailyTokens = null,
    long? MonthlyTokens = null)
{
    /// <summary>No limit at all.</summary>
    public static Limits Unlimited { get; } = new();

    /// <summary>True when no field is set.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsUnlimited =>
        RequestsPerMinute is null && TokensPerMinute is null && ConcurrentRequests is null &&
        DailyTokens is null && MonthlyTokens is null;

    /// <summary>These limits with every field that <paramref name="overrides"/> sets replaced by its value.</summary>
    public Limits Merge(Limits? overrides) => overrides is null ? this : new Limits(
        overrides.RequestsPerMinute ?? RequestsPerMinute,
        overrides.TokensPerMinute ?? TokensPerMinute,
        overrides.ConcurrentRequests ?? ConcurrentRequests,
        overrides.DailyTokens ?? DailyTokens,
        overrides.MonthlyTokens ?? MonthlyTokens);
}

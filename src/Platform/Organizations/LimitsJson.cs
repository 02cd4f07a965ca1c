using System.Text.Json;
using System.Text.Json.Serialization;
using Inference.Gateway.Keys;
using Inference.Platform.Api;

namespace Inference.Platform.Organizations;

/// <summary>
/// Limits as stored and as the API takes them: {"requests_per_minute", "tokens_per_minute", "concurrent_requests",
/// "daily_tokens", "monthly_tokens"}, each optional and positive.
/// </summary>
public static class LimitsJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static string? Serialize(Limits? limits) => limits is null || limits.IsUnlimited ? null : JsonSerializer.Serialize(limits, Options);

    public static Limits? Deserialize(string? json) => json is null ? null : JsonSerializer.Deserialize<Limits>(json, Options);

    /// <summary>Limits from a request body element; 400 naming <paramref name="field"/> for unknown fields or values below 1.</summary>
    public static Limits? FromRequest(JsonElement? element, string field)
    {
        if (element is not { } e || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (e.ValueKind != JsonValueKind.Object)
        {
            throw PlatformException.Invalid(field, $"{field} must be an object of limits.");
        }

        Limits limits;
        try
        {
            limits = JsonSerializer.Deserialize<Limits>(e.GetRawText(), Options)!;
        }
        catch (JsonException ex)
        {
            throw PlatformException.Invalid(field, $"{field}: {ex.Message.Split(" Path:")[0]} Known fields: requests_per_minute, tokens_per_minute, concurrent_requests, daily_tokens, monthly_tokens.");
        }

        if (limits.RequestsPerMinute < 1 || limits.TokensPerMinute < 1 || limits.ConcurrentRequests < 1 || limits.DailyTokens < 1 || limits.MonthlyTokens < 1)
        {
            throw PlatformException.Invalid(field, $"{field}: every limit must be at least 1 (leave a field out for no limit).");
        }

        return limits;
    }
}

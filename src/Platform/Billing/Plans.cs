using Inference.Gateway.Keys;
using Inference.Scheduler;

namespace Inference.Platform.Billing;

/// <summary>The plans of the business plans (Free, Basic 30,000 KRW, Premium 50,000 KRW, Enterprise 100,000 KRW a month).</summary>
public static class Plans
{
    public static Plan Free { get; } = new("free", "Free", Tier.Free, 0, 200_000, 0,
        new Limits(RequestsPerMinute: 10, TokensPerMinute: 10_000, ConcurrentRequests: 2, DailyTokens: 50_000), PriorityClass.Batch);

    public static Plan Basic { get; } = new("basic", "Basic", Tier.Basic, 30_000, 5_000_000, 5,
        new Limits(RequestsPerMinute: 60, TokensPerMinute: 60_000, ConcurrentRequests: 5), PriorityClass.Standard);

    public static Plan Premium { get; } = new("premium", "Premium", Tier.Premium, 50_000, 12_000_000, 4,
        new Limits(RequestsPerMinute: 300, TokensPerMinute: 300_000, ConcurrentRequests: 20), PriorityClass.Interactive);

    public static Plan Enterprise { get; } = new("enterprise", "Enterprise", Tier.Enterprise, 100_000, 30_000_000, 3,
        new Limits(RequestsPerMinute: 1_000, TokensPerMinute: 1_000_000, ConcurrentRequests: 100), PriorityClass.Interactive);

    public static IReadOnlyList<Plan> All { get; } = [Free, Basic, Premium, Enterprise];

    /// <summary>The plan with this id, or null.</summary>
    public static Plan? Find(string? id) => All.FirstOrDefault(p => string.Equals(p.Id, id, StringComparison.Ordinal));

    /// <summary>The plan with this id; 400 naming <paramref name="field"/> otherwise.</summary>
    public static Plan Get(string? id, string field) => Find(id)
        ?? throw Api.PlatformException.Invalid(field, $"'{id}' is not a plan; use one of {string.Join(", ", All.Select(p => p.Id))}.");
}

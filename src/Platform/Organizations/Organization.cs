using Inference.Gateway.Keys;

namespace Inference.Platform.Organizations;

/// <summary>A tenant: its plan, per-organization limit overrides (set by platform admins) and budget.</summary>
public sealed record Organization(
    string Id,
    string Name,
    string Plan,
    Limits? Overrides,
    long? BudgetKrw,
    bool BudgetHardStop,
    string? WebhookUrl,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DeletedAt = null);

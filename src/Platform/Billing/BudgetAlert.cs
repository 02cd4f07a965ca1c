namespace Inference.Platform.Billing;

/// <summary>A budget alert: raised once per organization, period and threshold (50, 80, 100 %).</summary>
public sealed record BudgetAlert(string OrgId, string Period, int ThresholdPercent, long SpendKrw, long BudgetKrw, DateTimeOffset CreatedAt, DateTimeOffset? DeliveredAt, int Attempts, string? LastError);

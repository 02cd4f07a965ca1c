namespace Inference.Gateway.Quotas;

/// <summary>Which limit refused an admission.</summary>
public enum QuotaLimit
{
    /// <summary>None (admitted).</summary>
    None = 0,

    /// <summary><see cref="Keys.Limits.RequestsPerMinute"/>.</summary>
    RequestsPerMinute = 1,

    /// <summary><see cref="Keys.Limits.TokensPerMinute"/>.</summary>
    TokensPerMinute = 2,

    /// <summary><see cref="Keys.Limits.ConcurrentRequests"/>.</summary>
    ConcurrentRequests = 3,

    /// <summary><see cref="Keys.Limits.DailyTokens"/>.</summary>
    DailyTokens = 4,

    /// <summary><see cref="Keys.Limits.MonthlyTokens"/>.</summary>
    MonthlyTokens = 5,
}

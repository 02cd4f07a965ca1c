namespace Inference.Platform.Apps;

/// <summary>
/// Who may run a published app: browser origins besides the platform's own (for a static export on a CDN), and the
/// limits of its publishable key (a per-minute rate and a monthly token budget, apart from the organization's).
/// </summary>
public sealed record AppAccess(IReadOnlyList<string> AllowedOrigins, int RequestsPerMinute, long MonthlyTokens);

namespace Inference.Platform.Billing;

/// <summary>An organization's usage on one UTC day.</summary>
public sealed record UsageDay(DateOnly Day, long Requests, long PromptTokens, long CompletionTokens, long CachedTokens, long BillableTokens);

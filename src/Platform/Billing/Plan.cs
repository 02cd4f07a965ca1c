using Inference.Gateway.Keys;
using Inference.Scheduler;

namespace Inference.Platform.Billing;

/// <summary>
/// A monthly plan: fee, included tokens, the price of tokens beyond them, rate limits and priority class.
/// Money is whole won (KRW has no minor unit); <see cref="OveragePer1kTokensKrw"/> 0 means no overage: the
/// included tokens are a hard monthly cap.
/// </summary>
public sealed record Plan(
    string Id,
    string Name,
    Tier Tier,
    long MonthlyFeeKrw,
    long IncludedTokens,
    long OveragePer1kTokensKrw,
    Limits Limits,
    PriorityClass Priority);

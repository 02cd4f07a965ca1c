using System.Collections.Frozen;
using Inference.Scheduler;

namespace Inference.Gateway.Keys;

/// <summary>Default <see cref="Limits"/> and <see cref="PriorityClass"/> of each <see cref="Tier"/>.</summary>
/// <remarks>
/// Built-in defaults (overridable per tier, e.g. from the key file's <c>tiers</c> section):
/// <list type="table">
/// <listheader><term>tier</term><description>RPM / TPM / concurrent / daily / monthly tokens; priority</description></listheader>
/// <item><term>free</term><description>10 / 10,000 / 2 / 50,000 / 500,000; Batch</description></item>
/// <item><term>basic</term><description>60 / 60,000 / 5 / 500,000 / 10,000,000; Standard</description></item>
/// <item><term>premium</term><description>300 / 300,000 / 20 / 2,000,000 / 50,000,000; Interactive</description></item>
/// <item><term>enterprise</term><description>1,000 / 1,000,000 / 100 / unlimited / unlimited; Interactive</description></item>
/// </list>
/// Paid tiers come before free (batch-class) traffic in the scheduler.
/// </remarks>
public sealed class TierPolicy
{
    private readonly FrozenDictionary<Tier, (Limits Limits, PriorityClass Priority)> _tiers;

    /// <summary>The built-in defaults.</summary>
    public static TierPolicy Default { get; } = new(new Dictionary<Tier, (Limits, PriorityClass)>
    {
        [Tier.Free] = (new Limits(10, 10_000, 2, 50_000, 500_000), PriorityClass.Batch),
        [Tier.Basic] = (new Limits(60, 60_000, 5, 500_000, 10_000_000), PriorityClass.Standard),
        [Tier.Premium] = (new Limits(300, 300_000, 20, 2_000_000, 50_000_000), PriorityClass.Interactive),
        [Tier.Enterprise] = (new Limits(1_000, 1_000_000, 100), PriorityClass.Interactive),
    });

    private TierPolicy(IDictionary<Tier, (Limits, PriorityClass)> tiers) => _tiers = tiers.ToFrozenDictionary();

    /// <summary>Default limits of keys on <paramref name="tier"/>.</summary>
    public Limits LimitsFor(Tier tier) => _tiers[tier].Limits;

    /// <summary>Scheduler priority class of requests made with keys on <paramref name="tier"/>.</summary>
    public PriorityClass PriorityFor(Tier tier) => _tiers[tier].Priority;

    /// <summary>
    /// A policy equal to this one except for <paramref name="tier"/>: fields set in <paramref name="limits"/>
    /// replace the tier's defaults (null fields keep them), and <paramref name="priority"/> replaces its class if given.
    /// </summary>
    public TierPolicy WithOverride(Tier tier, Limits? limits, PriorityClass? priority = null)
    {
        var copy = new Dictionary<Tier, (Limits, PriorityClass)>(_tiers);
        var (current, currentPriority) = _tiers[tier];
        copy[tier] = (current.Merge(limits), priority ?? currentPriority);
        return new TierPolicy(copy);
    }

    /// <summary>A policy whose <paramref name="tier"/> has exactly <paramref name="limits"/> (unset fields unlimited).</summary>
    public TierPolicy WithLimits(Tier tier, Limits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var copy = new Dictionary<Tier, (Limits, PriorityClass)>(_tiers) { [tier] = (limits, _tiers[tier].Priority) };
        return new TierPolicy(copy);
    }

    /// <summary>The limits that apply to <paramref name="key"/>: its tier's defaults overridden by its own limits.</summary>
    public Limits EffectiveLimits(ApiKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return LimitsFor(key.Tier).Merge(key.Limits);
    }
}

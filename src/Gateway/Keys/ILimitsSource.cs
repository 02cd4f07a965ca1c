using Inference.Scheduler;

namespace Inference.Gateway.Keys;

/// <summary>The limits and priority that apply to a request made with a key.</summary>
/// <param name="Key">The key's limits: tier defaults merged with its own.</param>
/// <param name="Tenant">The tenant's limits, shared by all its keys (<see cref="Limits.Unlimited"/> when none).</param>
/// <param name="Priority">Scheduler priority class from the key's tier.</param>
public sealed record EffectiveLimits(Limits Key, Limits Tenant, PriorityClass Priority);

/// <summary>Resolves the limits of a key and its tenant. <see cref="FileKeyStore"/> implements it; so will the platform.</summary>
public interface ILimitsSource
{
    /// <summary>Limits and priority for requests made with <paramref name="key"/>.</summary>
    ValueTask<EffectiveLimits> ResolveAsync(ApiKey key, CancellationToken ct);
}

using Inference.Gateway.Keys;
using Inference.Scheduler;

namespace Inference.Gateway.Serving;

/// <summary>Who is calling: the authenticated key's identity (never the secret), or the anonymous caller of an open gateway.</summary>
public sealed record CallerContext
{
    public static CallerContext Anonymous { get; } = new() { KeyId = "anonymous", Tenant = "default", Class = PriorityClass.Standard };

    /// <summary>Short hash-derived id, safe for logs and metric labels.</summary>
    public required string KeyId { get; init; }

    public required string Tenant { get; init; }


    public PriorityClass Class { get; init; } = PriorityClass.Standard;

    /// <summary>The key record, for admission (null when anonymous).</summary>
    public ApiKey? Key { get; init; }

    /// <summary>Key and tenant limits and the priority class (null when anonymous).</summary>
    public EffectiveLimits? Limits { get; init; }
}

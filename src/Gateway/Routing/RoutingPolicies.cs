namespace Inference.Gateway.Routing;

/// <summary>The policies operators can name (--routing).</summary>
public static class RoutingPolicies
{
    public static IReadOnlyList<string> Names { get; } = [PrefixAffinityPolicy.PolicyName, LeastLoadedPolicy.PolicyName];

    /// <summary>The policy called <paramref name="name"/>; ArgumentException naming the choices otherwise.</summary>
    public static IRoutingPolicy Create(string name, byte[]? prefixCacheSecret = null, TimeProvider? time = null) => name switch
    {
        PrefixAffinityPolicy.PolicyName => new PrefixAffinityPolicy(secret: prefixCacheSecret, time: time),
        LeastLoadedPolicy.PolicyName => new LeastLoadedPolicy(),
        _ => throw new ArgumentException($"routing policy '{name}' is unknown: use {string.Join(" or ", Names)}"),
    };
}

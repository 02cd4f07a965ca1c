namespace Inference.Gateway.Keys;

/// <summary>A plan an API key is sold on; gives default <see cref="Limits"/> and priority (see <see cref="TierPolicy"/>).</summary>
public enum Tier
{
    /// <summary>No payment; batch-class priority, tight limits.</summary>
    Free,

    /// <summary>Entry paid plan.</summary>
    Basic,

    /// <summary>Mid paid plan.</summary>
    Premium,

    /// <summary>Top paid plan.</summary>
    Enterprise,
}

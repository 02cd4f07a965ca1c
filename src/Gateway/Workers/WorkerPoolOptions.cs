namespace Inference.Gateway.Workers;

/// <summary>How a <see cref="WorkerPool"/> ranks workers and remembers prompt prefixes.</summary>
public sealed record WorkerPoolOptions
{
    /// <summary>A Ready worker counts for <see cref="WorkerPool.IsReady"/> only with a load report younger than this.</summary>
    public TimeSpan FreshLoadWithin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Prompt blocks hashed for prefix affinity (the first N full blocks; a longer match wins).</summary>
    public int AffinityBlocks { get; init; } = 4;

    /// <summary>Tokens per affinity block; 0 uses the worker's KV block size (so affinity follows its prefix cache).</summary>
    public int AffinityBlockSize { get; init; }

    /// <summary>How long a worker is remembered as holding a prefix after it last served it.</summary>
    public TimeSpan AffinityTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Bound on remembered prefixes; past it, expired entries go first, then all.</summary>
    public int MaxAffinityEntries { get; init; } = 100_000;

    /// <summary>
    /// The worker holding a prompt's prefix is picked unless its load score exceeds the best one by more than
    /// this (scores: load relative to the busiest candidate, in [0, 1], plus the KV use fraction, in [0, 1]).
    /// </summary>
    public double AffinityTolerance { get; init; } = 0.5;

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value)
        {
            if (!ok)
            {
                throw new ArgumentException($"WorkerPoolOptions.{name} = {value} is invalid.");
            }
        }

        Require(FreshLoadWithin > TimeSpan.Zero, nameof(FreshLoadWithin), FreshLoadWithin);
        Require(AffinityBlocks >= 0, nameof(AffinityBlocks), AffinityBlocks);
        Require(AffinityBlockSize >= 0, nameof(AffinityBlockSize), AffinityBlockSize);
        Require(AffinityTtl > TimeSpan.Zero, nameof(AffinityTtl), AffinityTtl);
        Require(MaxAffinityEntries >= 1, nameof(MaxAffinityEntries), MaxAffinityEntries);
        Require(AffinityTolerance >= 0 && double.IsFinite(AffinityTolerance), nameof(AffinityTolerance), AffinityTolerance);
    }
}

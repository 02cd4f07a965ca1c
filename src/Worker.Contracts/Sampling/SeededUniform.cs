namespace Inference.Worker.Sampling;

/// <summary>
/// Counter-based uniform draws: the value for (seed, step) depends on nothing else, so a seeded
/// request samples the same tokens alone or in any batch, and again after preemption and recompute.
/// </summary>
public static class SeededUniform
{
    /// <summary>A double in [0, 1) for the <paramref name="step"/>-th token of a request with <paramref name="seed"/>.</summary>
    public static double At(ulong seed, int step)
    {
        ulong z = seed + (0x9E3779B97F4A7C15UL * (ulong)(step + 1));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}

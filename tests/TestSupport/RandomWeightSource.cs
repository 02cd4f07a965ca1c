using System.Text;
using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.TestSupport;

/// <summary>
/// Deterministic random weights for a config (like vLLM's dummy load format): each tensor is drawn
/// from a generator seeded by (seed, tensor name), so a tensor's values never depend on the order or
/// set of tensors read. Norm weights are 1 + noise; everything else N(0, std).
/// </summary>
public sealed class RandomWeightSource : IWeightSource
{
    private readonly long _seed;
    private readonly double _std;

    public RandomWeightSource(long seed = 0, double std = 0.05)
    {
        _seed = seed;
        _std = std;
    }

    public bool Contains(string name) => false;

    public Tensor Read(string name, long[] expectedShape, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(name);
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)(_seed ^ StableHash(name)));
        Tensor values = randn(expectedShape, ScalarType.Float32, generator: generator);
        values = name.EndsWith("norm.weight", StringComparison.Ordinal)
            ? 1 + (values * 0.1)
            : values * _std;
        return values.to(dtype, device).MoveToOuterDisposeScope();
    }

    private static long StableHash(string text)
    {
        // FNV-1a: stable across processes and runtimes, unlike string.GetHashCode.
        ulong hash = 14695981039346656037UL;
        foreach (byte c in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return (long)(hash & 0x7FFFFFFFFFFFFFFF);
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.KvCache;

/// <summary>
/// Device-resident K/V storage for every layer, preallocated once and addressed by slot:
/// slot = block * BlockSize + offset. A sequence owns a block table (its blocks in order);
/// nothing here assumes a sequence's tokens are contiguous. Owns its tensors: Dispose frees them.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    private PagedKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, ScalarType dtype, Device device)
    {
        NumLayers = numLayers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        NumKvHeads = numKvHeads;
        HeadDim = headDim;
        Dtype = dtype;
        Device = device;
        _keys = new Tensor[numLayers];
        _values = new Tensor[numLayers];
        long slots = (long)numBlocks * blockSize;
        for (int i = 0; i < numLayers; i++)
        {
            // zeros, not empty: padded gathers read slot 0 and must never see NaN garbage.
            _keys[i] = zeros([slots, numKvHeads, headDim], dtype, device).DetachFromDisposeScope();
            _values[i] = zeros([slots, numKvHeads, headDim], dtype, device).DetachFromDisposeScope();
        }
    }

    public int NumLayers { get; }
    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    public ScalarType Dtype { get; }
    public Device Device { get; }

    /// <summary>Bytes of K and V for one block across all layers.</summary>
    public long BytesPerBlock => BytesPerBlockFor(NumLayers, BlockSize, NumKvHeads, HeadDim, Dtype);

    /// <summary>Total bytes held by this cache.</summary>
    public long TotalBytes => BytesPerBlock * NumBlocks;

    /// <summary>Keys of one layer: [NumBlocks * BlockSize, NumKvHeads, HeadDim].</summary>
    public Tensor Keys(int layer) => _keys[layer];

    /// <summary>Values of one layer: [NumBlocks * BlockSize, NumKvHeads, HeadDim].</summary>
    public Tensor Values(int layer) => _values[layer];

    /// <summary>
    /// Copies whole blocks (all layers, K and V) from sources to destinations: the device side of
    /// copy-on-write when forked sequences first write into a shared block. One gather/scatter per tensor.
    /// </summary>
    public void CopyBlocks(ReadOnlySpan<int> sources, ReadOnlySpan<int> destinations)
    {
        if (sources.Length != destinations.Length)
        {
            throw new ArgumentException("Sources and destinations differ in length.", nameof(destinations));
        }

        if (sources.IsEmpty)
        {
            return;
        }

        var from = new long[sources.Length * BlockSize];
        var to = new long[sources.Length * BlockSize];
        for (int i = 0; i < sources.Length; i++)
        {
            for (int j = 0; j < BlockSize; j++)
            {
                from[(i * BlockSize) + j] = ((long)sources[i] * BlockSize) + j;
                to[(i * BlockSize) + j] = ((long)destinations[i] * BlockSize) + j;
            }
        }

        using var scope = NewDisposeScope();
        Tensor fromIndex = tensor(from, ScalarType.Int64, Device);
        Tensor toIndex = tensor(to, ScalarType.Int64, Device);
        for (int layer = 0; layer < NumLayers; layer++)
        {
            _keys[layer].index_copy_(0, toIndex, _keys[layer].index_select(0, fromIndex));
            _values[layer].index_copy_(0, toIndex, _values[layer].index_select(0, fromIndex));
        }
    }

    public static long BytesPerBlockFor(int numLayers, int blockSize, int numKvHeads, int headDim, ScalarType dtype) =>
        2L * numLayers * blockSize * numKvHeads * headDim * ElementSize(dtype);

    /// <summary>Allocates as many blocks as fit in <paramref name="memoryBytes"/>.</summary>
    public static PagedKvCache Create(
        int numLayers, int numKvHeads, int headDim, ScalarType dtype, Device device, long memoryBytes, int blockSize = 16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        long perBlock = BytesPerBlockFor(numLayers, blockSize, numKvHeads, headDim, dtype);
        long numBlocks = memoryBytes / perBlock;
        if (numBlocks < 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(memoryBytes),
                $"--kv-cache-memory of {memoryBytes} bytes is below one block ({perBlock} bytes for {blockSize} tokens).");
        }

        return new PagedKvCache(numLayers, (int)Math.Min(numBlocks, int.MaxValue / blockSize), blockSize, numKvHeads, headDim, dtype, device);
    }

    internal static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unsupported KV cache dtype."),
    };

    public void Dispose()
    {
        foreach (Tensor t in _keys)
        {
            t.Dispose();
        }

        foreach (Tensor t in _values)
        {
            t.Dispose();
        }
    }
}

using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.KvCache;

/// <summary>
/// Device-resident K/V storage for every layer, preallocated once and addressed by slot:
/// slot = block * BlockSize + offset. A sequence owns a block table (its blocks in order);
/// nothing here assumes a sequence's tokens are contiguous. Owns its tensors: Dispose frees them.
/// Under a pipeline split each layer's K/V live on its stage's device; every stage uses the same block ids,
/// so the scheduler sees one block pool.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly PipelineStage[] _stages;

    private PagedKvCache(PipelineStage[] stages, int numBlocks, int blockSize, int numKvHeads, int headDim, ScalarType dtype)
    {
        _stages = stages;
        int numLayers = stages[^1].EndLayer;
        NumLayers = numLayers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        NumKvHeads = numKvHeads;
        HeadDim = headDim;
        Dtype = dtype;
        Device = stages[0].Device;
        _keys = new Tensor[numLayers];
        _values = new Tensor[numLayers];
        long slots = (long)numBlocks * blockSize;
        try
        {
            foreach (PipelineStage stage in stages)
            {
                for (int i = stage.FirstLayer; i < stage.EndLayer; i++)
                {
                    // zeros, not empty: padded gathers read slot 0 and must never see NaN garbage.
                    _keys[i] = zeros([slots, numKvHeads, headDim], dtype, stage.Device).DetachFromDisposeScope();
                    _values[i] = zeros([slots, numKvHeads, headDim], dtype, stage.Device).DetachFromDisposeScope();
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int NumLayers { get; }
    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    public ScalarType Dtype { get; }

    /// <summary>The first stage's device (the only one when the model is not split).</summary>
    public Device Device { get; }

    /// <summary>The stages whose layers this cache holds (one when the model is not split).</summary>
    public IReadOnlyList<PipelineStage> Stages => _stages;

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
        foreach (PipelineStage stage in _stages)
        {
            Tensor fromIndex = tensor(from, ScalarType.Int64, stage.Device);
            Tensor toIndex = tensor(to, ScalarType.Int64, stage.Device);
            for (int layer = stage.FirstLayer; layer < stage.EndLayer; layer++)
            {
                _keys[layer].index_copy_(0, toIndex, _keys[layer].index_select(0, fromIndex));
                _values[layer].index_copy_(0, toIndex, _values[layer].index_select(0, fromIndex));
            }
        }
    }

    public static long BytesPerBlockFor(int numLayers, int blockSize, int numKvHeads, int headDim, ScalarType dtype) =>
        2L * numLayers * blockSize * numKvHeads * headDim * ElementSize(dtype);

    /// <summary>Allocates as many blocks as fit in <paramref name="memoryBytes"/>.</summary>
    public static PagedKvCache Create(
        int numLayers, int numKvHeads, int headDim, ScalarType dtype, Device device, long memoryBytes, int blockSize = 16) =>
        Create(PipelineStage.Single(device, numLayers), numKvHeads, headDim, dtype, [memoryBytes], blockSize);

    /// <summary>
    /// Allocates each stage's layers on its device, from that device's budget (<paramref name="stageMemoryBytes"/>, one
    /// per stage): every stage gets the same number of blocks, the most that fit in every stage's budget, since one
    /// block id addresses the same block in every stage.
    /// </summary>
    public static PagedKvCache Create(
        IReadOnlyList<PipelineStage> stages, int numKvHeads, int headDim, ScalarType dtype, IReadOnlyList<long> stageMemoryBytes, int blockSize = 16)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(stageMemoryBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        if (stages.Count == 0 || stageMemoryBytes.Count != stages.Count)
        {
            throw new ArgumentException($"{stages.Count} stages need one memory budget each, got {stageMemoryBytes.Count}.", nameof(stageMemoryBytes));
        }

        long numBlocks = long.MaxValue;
        for (int i = 0; i < stages.Count; i++)
        {
            if (stages[i].FirstLayer != (i == 0 ? 0 : stages[i - 1].EndLayer) || stages[i].NumLayers < 1)
            {
                throw new ArgumentException($"Pipeline stage {i} (layers from {stages[i].FirstLayer}, {stages[i].NumLayers} of them) does not continue the stage before it.", nameof(stages));
            }

            long perBlock = BytesPerBlockFor(stages[i].NumLayers, blockSize, numKvHeads, headDim, dtype);
            long fits = stageMemoryBytes[i] / perBlock;
            if (fits < 1)
            {
                string where = stages.Count == 1 ? string.Empty : $" on pipeline stage {i} ({PipelineStage.DeviceName(stages[i].Device)}, {stages[i].NumLayers} layers)";
                throw new ArgumentOutOfRangeException(
                    nameof(stageMemoryBytes),
                    $"--kv-cache-memory of {stageMemoryBytes[i]} bytes{where} is below one block ({perBlock} bytes for {blockSize} tokens).");
            }

            numBlocks = Math.Min(numBlocks, fits);
        }

        return new PagedKvCache([.. stages], (int)Math.Min(numBlocks, int.MaxValue / blockSize), blockSize, numKvHeads, headDim, dtype);
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
        foreach (Tensor? t in _keys)
        {
            t?.Dispose();
        }

        foreach (Tensor? t in _values)
        {
            t?.Dispose();
        }
    }
}

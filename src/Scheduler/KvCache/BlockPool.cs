namespace Inference.Scheduler.KvCache;

/// <summary>
/// A free list of fixed-size KV cache blocks, identified by index. This is the allocation floor
/// the paged block manager builds on; it knows nothing about sequences or prefixes.
/// Not thread-safe: the engine loop thread owns it.
/// </summary>
public sealed class BlockPool
{
    private readonly int[] _free;
    private readonly bool[] _allocated;
    private int _freeCount;

    public BlockPool(int numBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        _free = new int[numBlocks];
        _allocated = new bool[numBlocks];

        // Hand out low indices first so small workloads touch a compact region of the cache.
        for (int i = 0; i < numBlocks; i++)
        {
            _free[i] = numBlocks - 1 - i;
        }

        _freeCount = numBlocks;
    }

    /// <summary>Total number of blocks.</summary>
    public int Capacity => _free.Length;

    /// <summary>Blocks not currently allocated.</summary>
    public int FreeCount => _freeCount;

    /// <summary>Blocks currently allocated.</summary>
    public int UsedCount => _free.Length - _freeCount;

    /// <summary>Takes one free block; false when none is left.</summary>
    public bool TryAllocate(out int block)
    {
        if (_freeCount == 0)
        {
            block = -1;
            return false;
        }

        block = _free[--_freeCount];
        _allocated[block] = true;
        return true;
    }

    /// <summary>Returns a block to the pool. Freeing a block twice is a bug and throws.</summary>
    public void Free(int block)
    {
        if ((uint)block >= (uint)_allocated.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(block), block, "Block index is outside the pool.");
        }

        if (!_allocated[block])
        {
            throw new InvalidOperationException($"Block {block} is already free.");
        }

        _allocated[block] = false;
        _free[_freeCount++] = block;
    }
}

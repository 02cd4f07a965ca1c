namespace Inference.Scheduler.KvCache;

/// <summary>
/// The paged KV cache block manager: a free list of blocks, per-sequence <see cref="BlockTable"/>s,
/// reference counts, copy-on-write for forked sequences and automatic prefix caching.
/// </summary>
/// <remarks>
/// <para>
/// Every block is in exactly one of three places: the free list (reference count 0, no prefix
/// hash), held by one or more tables (reference count &gt; 0, hashed or not), or the evictable
/// cache (reference count 0, hashed; an intrusive LRU list ordered by the time it was freed).
/// Hence free + <see cref="UsedBlocks"/> + <see cref="CachedBlocks"/> == <see cref="TotalBlocks"/>.
/// Allocation takes from the free list first and evicts the least recently freed cached block
/// only when the free list is empty.
/// </para>
/// <para>
/// All operations are O(blocks touched) on preallocated arrays and a presized dictionary: nothing
/// is allocated per call in steady state except growth of a table's own list.
/// Not thread-safe: the engine loop thread owns it.
/// </para>
/// </remarks>
public sealed partial class BlockManager
{
    private const int None = -1;

    private readonly int _blockSize;
    private readonly bool _enablePrefixCaching;

    private readonly int[] _refCount;

    // Free list: a stack of block indices; _freeList[.._freeCount] are free.
    private readonly int[] _freeList;
    private int _freeCount;

    private int _usedCount;

    /// <summary>Creates a manager over <paramref name="numBlocks"/> blocks of <paramref name="blockSize"/> tokens.</summary>
    /// <param name="numBlocks">Blocks in the KV cache.</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="enablePrefixCaching">When false, nothing is hashed, looked up or kept after free.</param>
    public BlockManager(int numBlocks, int blockSize, bool enablePrefixCaching = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        _blockSize = blockSize;
        _enablePrefixCaching = enablePrefixCaching;
        _refCount = new int[numBlocks];
        _freeList = new int[numBlocks];

        // Hand out low indices first so small workloads touch a compact region of the cache.
        for (int i = 0; i < numBlocks; i++)
        {
            _freeList[i] = numBlocks - 1 - i;
        }

        _freeCount = numBlocks;
        InitializePrefixCache(numBlocks, blockSize);
    }

    /// <summary>Tokens per block.</summary>
    public int BlockSize => _blockSize;

    /// <summary>Blocks in the KV cache.</summary>
    public int TotalBlocks => _refCount.Length;

    /// <summary>Blocks allocatable now: free-list blocks plus evictable cached blocks.</summary>
    public int FreeBlocks => _freeCount + _lruCount;

    /// <summary>Blocks held by at least one table (reference count &gt; 0).</summary>
    public int UsedBlocks => _usedCount;

    /// <summary>Blocks with reference count 0 that still hold a prefix hash (evictable, LRU).</summary>
    public int CachedBlocks => _lruCount;

    /// <summary>Whether automatic prefix caching is on.</summary>
    public bool PrefixCachingEnabled => _enablePrefixCaching;

    /// <summary>
    /// Extra blocks <paramref name="table"/> needs to hold <paramref name="numTokens"/> tokens in
    /// total, counting the copy-on-write block <see cref="TryAppend"/> would take when the next
    /// write lands in a shared block.
    /// </summary>
    public int BlocksNeeded(BlockTable table, int numTokens)
    {
        ArgumentNullException.ThrowIfNull(table);
        int extra = Math.Max(0, BlocksFor(numTokens) - table.Count);
        return NeedsCopyOnWrite(table, numTokens) ? extra + 1 : extra;
    }

    /// <summary>
    /// Admits a new sequence: acquires the blocks of its cached prefix (reference count +1, out
    /// of the LRU), then fresh blocks so the table holds <paramref name="numTokens"/> tokens
    /// (or the cached tokens, if more).
    /// </summary>
    /// <param name="table">An empty table.</param>
    /// <param name="tokens">The prompt's token ids (all of them, even when prefill is chunked).</param>
    /// <param name="numTokens">Tokens the table must hold after the call, cached ones included.</param>
    /// <param name="salt">The tenant's salt (<see cref="PrefixSalt.For"/>).</param>
    /// <param name="watermarkBlocks">Blocks that must remain allocatable afterwards.</param>
    /// <param name="cachedTokens">Tokens served from the cache: prefill starts at this position.</param>
    /// <returns>False, with nothing changed, when fewer than the needed blocks plus the watermark are free.</returns>
    /// <remarks>
    /// At least one prompt token is always computed (the step needs its logits), so the block
    /// holding the last prompt token is never taken from the cache: cached tokens are capped at
    /// <c>tokens.Length - 1</c> rounded down to whole blocks.
    /// </remarks>
    public bool TryAllocate(BlockTable table, ReadOnlySpan<int> tokens, int numTokens, ulong salt, int watermarkBlocks, out int cachedTokens)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfNegative(numTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(watermarkBlocks);
        if (table.Count != 0)
        {
            throw new InvalidOperationException("The block table already holds blocks; free it before allocating again.");
        }

        List<int> blocks = table.BlockList;
        int maxCachedBlocks = _enablePrefixCaching && tokens.Length > 0 ? (tokens.Length - 1) / _blockSize : 0;

        // Matched blocks go straight into the table's list; on refusal the list is cleared and
        // nothing else has been touched.
        int hitsFromLru = MatchPrefix(tokens, salt, maxCachedBlocks, blocks, out ulong lastHash);
        int hits = blocks.Count;

        int heldTokens = Math.Max(numTokens, hits * _blockSize);
        int freshBlocks = BlocksFor(heldTokens) - hits;
        if (FreeBlocks - (freshBlocks + hitsFromLru) < watermarkBlocks)
        {
            blocks.Clear();
            cachedTokens = 0;
            return false;
        }

        // Acquire hits before taking fresh blocks so eviction can never pick a block just matched.
        for (int i = 0; i < hits; i++)
        {
            Acquire(blocks[i]);
        }

        for (int i = 0; i < freshBlocks; i++)
        {
            blocks.Add(TakeFreshBlock());
        }

        table.NumTokens = heldTokens;
        table.NumHashedBlocks = hits;
        table.PrefixChainBroken = false;
        if (hits > 0)
        {
            int last = blocks[hits - 1];
            table.LastHash = lastHash;
            table.LastCanonicalBlock = last;
            table.LastCanonicalGeneration = _generation[last];
        }
        else
        {
            table.LastHash = _enablePrefixCaching ? PrefixHash.Seed(salt) : 0;
            table.LastCanonicalBlock = None;
            table.LastCanonicalGeneration = 0;
        }

        _prefixQueryBlocks += maxCachedBlocks;
        _prefixHitBlocks += hits;
        cachedTokens = hits * _blockSize;
        return true;
    }

    /// <summary>
    /// Grows <paramref name="table"/> to hold <paramref name="numTokens"/> tokens in total (the
    /// next decode token or prefill chunk). When the next write lands in a block shared with a
    /// forked sequence, copies on write: a fresh block replaces it in this table and
    /// <c>BlockCopy(old, fresh)</c> is added to <paramref name="copies"/>.
    /// </summary>
    /// <returns>False, with nothing changed, when not enough blocks are allocatable.</returns>
    public bool TryAppend(BlockTable table, int numTokens, List<BlockCopy> copies)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(copies);
        if (numTokens <= table.NumTokens)
        {
            return true;
        }

        bool copyOnWrite = NeedsCopyOnWrite(table, numTokens);
        int freshBlocks = BlocksFor(numTokens) - table.Count;
        if (freshBlocks + (copyOnWrite ? 1 : 0) > FreeBlocks)
        {
            return false;
        }

        List<int> blocks = table.BlockList;
        if (copyOnWrite)
        {
            int index = table.NumTokens / _blockSize;
            int shared = blocks[index];
            int copy = TakeFreshBlock();

            // The shared block stays with the other holders (its count was > 1, so it stays > 0).
            _refCount[shared]--;
            blocks[index] = copy;
            copies.Add(new BlockCopy(shared, copy));
        }

        for (int i = 0; i < freshBlocks; i++)
        {
            blocks.Add(TakeFreshBlock());
        }

        table.NumTokens = numTokens;
        return true;
    }

    /// <summary>
    /// Makes <paramref name="child"/> share all of <paramref name="parent"/>'s blocks (n &gt; 1
    /// sampling): each block's reference count goes up by one. Whichever of the two first writes
    /// into a shared partial block copies it (<see cref="TryAppend"/>).
    /// </summary>
    /// <param name="parent">The table to share.</param>
    /// <param name="child">An empty table.</param>
    public void Fork(BlockTable parent, BlockTable child)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(child);
        if (child.Count != 0 || ReferenceEquals(parent, child))
        {
            throw new InvalidOperationException("The child block table must be empty and distinct from the parent.");
        }

        List<int> blocks = parent.BlockList;
        for (int i = 0; i < blocks.Count; i++)
        {
            _refCount[blocks[i]]++;
        }

        child.BlockList.AddRange(blocks);
        child.CopyStateFrom(parent);
    }

    /// <summary>
    /// Releases every block of <paramref name="table"/>, last block first, so that a sequence's
    /// tail blocks are evicted before its head (other prompts are likelier to share the head).
    /// A block whose count reaches 0 goes to the evictable cache when hashed, else to the free
    /// list. The table is left empty and reusable; freeing an empty table does nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">A block of the table is already free (a double free); nothing is changed.</exception>
    public void Free(BlockTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        List<int> blocks = table.BlockList;

        // Validate first so that a bug is reported without leaving the manager half-updated.
        for (int i = 0; i < blocks.Count; i++)
        {
            int block = blocks[i];
            if ((uint)block >= (uint)_refCount.Length || _refCount[block] <= 0)
            {
                throw new InvalidOperationException($"Block {block} is already free: double free.");
            }
        }

        for (int i = blocks.Count - 1; i >= 0; i--)
        {
            Release(blocks[i]);
        }

        blocks.Clear();
        table.ResetPrefixState();
    }

    private int BlocksFor(int numTokens) => (numTokens + _blockSize - 1) / _blockSize;

    private bool NeedsCopyOnWrite(BlockTable table, int numTokens)
    {
        if (numTokens <= table.NumTokens)
        {
            return false;
        }

        // Only the block the next write lands in can be shared and partly written; later writes
        // go to fresh blocks.
        int index = table.NumTokens / _blockSize;
        return index < table.Count && _refCount[table.BlockList[index]] > 1;
    }

    /// <summary>Takes a block for exclusive use: from the free list, else by evicting the LRU cached block.</summary>
    private int TakeFreshBlock()
    {
        int block;
        if (_freeCount > 0)
        {
            block = _freeList[--_freeCount];
        }
        else
        {
            block = _lruHead;
            if (block == None)
            {
                throw new InvalidOperationException("No block is allocatable; callers check FreeBlocks first.");
            }

            LruRemove(block);
            Unregister(block);
        }

        _refCount[block] = 1;
        _usedCount++;
        return block;
    }

    /// <summary>Takes one more reference to a cached block matched by prefix.</summary>
    private void Acquire(int block)
    {
        if (_refCount[block] == 0)
        {
            LruRemove(block);
            _usedCount++;
        }

        _refCount[block]++;
    }

    private void Release(int block)
    {
        if (--_refCount[block] > 0)
        {
            return;
        }

        _usedCount--;
        if (_hashed[block])
        {
            LruAddTail(block);
        }
        else
        {
            _freeList[_freeCount++] = block;
        }
    }
}

namespace Inference.Scheduler.KvCache;

// Read-only views of the internals for tests and debugging; allocate, so never on the hot path.
public sealed partial class BlockManager
{
    internal int GetRefCount(int block) => _refCount[block];

    internal bool IsHashed(int block) => _hashed[block];

    /// <summary>The free list, top (next handed out) first.</summary>
    internal int[] FreeListSnapshot()
    {
        var result = new int[_freeCount];
        for (int i = 0; i < _freeCount; i++)
        {
            result[i] = _freeList[_freeCount - 1 - i];
        }

        return result;
    }

    /// <summary>The evictable cache, least recently freed (next evicted) first.</summary>
    internal List<int> LruSnapshot()
    {
        var result = new List<int>(_lruCount);
        for (int block = _lruHead; block != None; block = _lruNext[block])
        {
            result.Add(block);
        }

        return result;
    }

    /// <summary>The hash a block is registered under, if any.</summary>
    internal bool TryGetBlockHash(int block, out ulong hash)
    {
        hash = _hashed[block] ? _blockHash[block] : 0;
        return _hashed[block];
    }

    /// <summary>The block registered under a hash, or -1.</summary>
    internal int LookupHash(ulong hash) => _cachedByHash.TryGetValue(hash, out int block) ? block : None;

    internal int RegisteredHashCount => _cachedByHash.Count;
}

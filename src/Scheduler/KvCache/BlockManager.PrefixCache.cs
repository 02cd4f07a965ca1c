namespace Inference.Scheduler.KvCache;

// Automatic prefix caching: chained block hashes, verified lookups, the evictable LRU.
public sealed partial class BlockManager
{
    // Per block, valid while _hashed[block]: its chained hash, the salt it was hashed under, its
    // token ids, and its parent link (the canonical block of the previous position and that
    // block's generation when linked). The link is what makes a hit exact: a match at block i
    // requires the match at block i-1 to be the very block the cached block was computed after,
    // still holding the same content (same generation), so by induction from block 0 the whole
    // prefix is equal, whatever the 64-bit hash does.
    private bool[] _hashed = null!;
    private ulong[] _blockHash = null!;
    private ulong[] _blockSalt = null!;
    private int[] _blockTokens = null!;
    private int[] _parentBlock = null!;
    private int[] _parentGeneration = null!;

    // Bumped whenever a block loses its hash: links recorded against the old content go stale.
    private int[] _generation = null!;

    private Dictionary<ulong, int> _cachedByHash = null!;

    // Intrusive doubly linked LRU of cached (reference count 0, hashed) blocks: head = least
    // recently freed = next to evict.
    private int[] _lruPrev = null!;
    private int[] _lruNext = null!;
    private int _lruHead = None;
    private int _lruTail = None;
    private int _lruCount;

    private long _prefixHitBlocks;
    private long _prefixQueryBlocks;

    /// <summary>Cumulative prompt blocks served from the prefix cache by successful <see cref="TryAllocate"/> calls.</summary>
    public long PrefixHitBlocks => _prefixHitBlocks;

    /// <summary>
    /// Cumulative prompt blocks eligible for a cache hit (full blocks before the one holding the
    /// last prompt token) over successful <see cref="TryAllocate"/> calls.
    /// </summary>
    public long PrefixQueryBlocks => _prefixQueryBlocks;

    /// <summary>
    /// Number of leading full blocks of <paramref name="tokens"/> cached under
    /// <paramref name="salt"/> (held by a sequence or evictable). No side effects; not capped by
    /// the last-token rule of <see cref="TryAllocate"/>.
    /// </summary>
    public int CountCachedPrefixBlocks(ReadOnlySpan<int> tokens, ulong salt)
    {
        if (!_enablePrefixCaching)
        {
            return 0;
        }

        int fullBlocks = tokens.Length / _blockSize;
        ulong hash = PrefixHash.Seed(salt);
        int parent = None;
        for (int i = 0; i < fullBlocks; i++)
        {
            ReadOnlySpan<int> blockTokens = tokens.Slice(i * _blockSize, _blockSize);
            hash = PrefixHash.Block(hash, salt, blockTokens);
            if (!TryMatch(hash, salt, blockTokens, parent, out int block))
            {
                return i;
            }

            parent = block;
        }

        return fullBlocks;
    }

    /// <summary>
    /// Registers every block of <paramref name="table"/> that became full now that its first
    /// <paramref name="numComputed"/> tokens are in the KV cache: hash(block i) = H(hash(block
    /// i-1), salt, token ids of block i), the chain seeded by <paramref name="salt"/>. When another
    /// sequence already registered the same content, that block stays the one canonical copy and
    /// this table's block is left unhashed (it returns to the free list when freed).
    /// </summary>
    /// <param name="table">The sequence's table.</param>
    /// <param name="tokens">The sequence's token ids so far (prompt and generated).</param>
    /// <param name="numComputed">Tokens whose K and V are now written.</param>
    /// <param name="salt">The salt the table was allocated under.</param>
    public void CommitFullBlocks(BlockTable table, ReadOnlySpan<int> tokens, int numComputed, ulong salt)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!_enablePrefixCaching || table.PrefixChainBroken)
        {
            return;
        }

        int fullBlocks = Math.Min(Math.Min(numComputed, tokens.Length), table.NumTokens) / _blockSize;
        fullBlocks = Math.Min(fullBlocks, table.Count);
        List<int> blocks = table.BlockList;
        for (int i = table.NumHashedBlocks; i < fullBlocks; i++)
        {
            int parent = table.LastCanonicalBlock;
            if (i > 0 && (parent == None || _generation[parent] != table.LastCanonicalGeneration))
            {
                // The canonical parent was evicted (or reset): nothing after it can be linked.
                table.PrefixChainBroken = true;
                return;
            }

            ReadOnlySpan<int> blockTokens = tokens.Slice(i * _blockSize, _blockSize);
            ulong hash = PrefixHash.Block(table.LastHash, salt, blockTokens);
            int own = blocks[i];
            int canonical;
            if (_cachedByHash.TryGetValue(hash, out int existing))
            {
                if (existing == own || Matches(existing, salt, blockTokens, parent))
                {
                    canonical = existing;
                }
                else if (_refCount[existing] == 0 && !IsLinkLive(existing))
                {
                    // A stale entry (its parent was evicted) nobody holds: replace it.
                    LruRemove(existing);
                    Unregister(existing);
                    _freeList[_freeCount++] = existing;
                    Register(own, hash, salt, blockTokens, parent);
                    canonical = own;
                }
                else
                {
                    // A 64-bit collision with live content, or a stale entry still in use.
                    table.PrefixChainBroken = true;
                    return;
                }
            }
            else
            {
                Register(own, hash, salt, blockTokens, parent);
                canonical = own;
            }

            table.LastHash = hash;
            table.LastCanonicalBlock = canonical;
            table.LastCanonicalGeneration = _generation[canonical];
            table.NumHashedBlocks = i + 1;
        }
    }

    /// <summary>
    /// Forgets every prefix hash (model reload, admin reset): cached blocks return to the free
    /// list, and blocks still held by sequences stay with them but will never be served from the
    /// cache again (they return to the free list when freed).
    /// </summary>
    public void ResetPrefixCache()
    {
        while (_lruHead != None)
        {
            int block = _lruHead;
            LruRemove(block);
            Unregister(block);
            _freeList[_freeCount++] = block;
        }

        for (int block = 0; block < _hashed.Length; block++)
        {
            if (_hashed[block])
            {
                Unregister(block);
            }
        }
    }

    private void InitializePrefixCache(int numBlocks, int blockSize)
    {
        _hashed = new bool[numBlocks];
        _generation = new int[numBlocks];
        _lruPrev = new int[numBlocks];
        _lruNext = new int[numBlocks];
        Array.Fill(_lruPrev, None);
        Array.Fill(_lruNext, None);
        if (_enablePrefixCaching)
        {
            _blockHash = new ulong[numBlocks];
            _blockSalt = new ulong[numBlocks];
            _blockTokens = new int[checked(numBlocks * blockSize)];
            _parentBlock = new int[numBlocks];
            _parentGeneration = new int[numBlocks];
            _cachedByHash = new Dictionary<ulong, int>(numBlocks);
        }
        else
        {
            _blockHash = [];
            _blockSalt = [];
            _blockTokens = [];
            _parentBlock = [];
            _parentGeneration = [];
            _cachedByHash = new Dictionary<ulong, int>(0);
        }
    }

    /// <summary>
    /// Walks the prompt's chain over at most <paramref name="maxBlocks"/> blocks, appending each
    /// verified hit to <paramref name="hits"/>. Returns how many hits sit in the LRU (they use up
    /// allocatable blocks when acquired).
    /// </summary>
    private int MatchPrefix(ReadOnlySpan<int> tokens, ulong salt, int maxBlocks, List<int> hits, out ulong lastHash)
    {
        lastHash = 0;
        if (maxBlocks == 0)
        {
            return 0;
        }

        int fromLru = 0;
        ulong hash = PrefixHash.Seed(salt);
        int parent = None;
        for (int i = 0; i < maxBlocks; i++)
        {
            ReadOnlySpan<int> blockTokens = tokens.Slice(i * _blockSize, _blockSize);
            hash = PrefixHash.Block(hash, salt, blockTokens);
            if (!TryMatch(hash, salt, blockTokens, parent, out int block))
            {
                break;
            }

            hits.Add(block);
            if (_refCount[block] == 0)
            {
                fromLru++;
            }

            lastHash = hash;
            parent = block;
        }

        return fromLru;
    }

    private bool TryMatch(ulong hash, ulong salt, ReadOnlySpan<int> blockTokens, int parent, out int block) =>
        _cachedByHash.TryGetValue(hash, out block) && Matches(block, salt, blockTokens, parent);

    /// <summary>Exact check of a cached block against (salt, tokens, canonical parent): never trust the hash alone.</summary>
    private bool Matches(int block, ulong salt, ReadOnlySpan<int> blockTokens, int parent) =>
        _blockSalt[block] == salt
        && _parentBlock[block] == parent
        && (parent == None || _parentGeneration[block] == _generation[parent])
        && blockTokens.SequenceEqual(_blockTokens.AsSpan(block * _blockSize, _blockSize));

    /// <summary>Whether a hashed block's parent link still points at the content it was computed after.</summary>
    private bool IsLinkLive(int block)
    {
        int parent = _parentBlock[block];
        return parent == None || _parentGeneration[block] == _generation[parent];
    }

    private void Register(int block, ulong hash, ulong salt, ReadOnlySpan<int> blockTokens, int parent)
    {
        _hashed[block] = true;
        _blockHash[block] = hash;
        _blockSalt[block] = salt;
        _parentBlock[block] = parent;
        _parentGeneration[block] = parent == None ? 0 : _generation[parent];
        blockTokens.CopyTo(_blockTokens.AsSpan(block * _blockSize, _blockSize));
        _cachedByHash.Add(hash, block);
    }

    private void Unregister(int block)
    {
        _cachedByHash.Remove(_blockHash[block]);
        _hashed[block] = false;
        _generation[block]++;
    }

    private void LruAddTail(int block)
    {
        _lruPrev[block] = _lruTail;
        _lruNext[block] = None;
        if (_lruTail == None)
        {
            _lruHead = block;
        }
        else
        {
            _lruNext[_lruTail] = block;
        }

        _lruTail = block;
        _lruCount++;
    }

    private void LruRemove(int block)
    {
        int prev = _lruPrev[block];
        int next = _lruNext[block];
        if (prev == None)
        {
            _lruHead = next;
        }
        else
        {
            _lruNext[prev] = next;
        }

        if (next == None)
        {
            _lruTail = prev;
        }
        else
        {
            _lruPrev[next] = prev;
        }

        _lruPrev[block] = None;
        _lruNext[block] = None;
        _lruCount--;
    }
}

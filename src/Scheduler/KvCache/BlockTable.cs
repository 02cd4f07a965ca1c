namespace Inference.Scheduler.KvCache;

/// <summary>
/// One sequence's KV cache blocks, in position order: token <c>p</c> lives in
/// <c>Blocks[p / blockSize]</c> at slot <c>p % blockSize</c>. Created empty by the owner of the
/// sequence, filled and emptied only by a <see cref="BlockManager"/>; reusable after
/// <see cref="BlockManager.Free"/>. Not thread-safe: the engine loop thread owns it.
/// </summary>
public sealed class BlockTable
{
    private readonly List<int> _blocks;

    /// <summary>Creates an empty table.</summary>
    public BlockTable()
        : this(0)
    {
    }

    /// <summary>Creates an empty table with room for <paramref name="capacity"/> blocks before it grows.</summary>
    public BlockTable(int capacity)
    {
        _blocks = new List<int>(capacity);
        ResetPrefixState();
    }

    /// <summary>The block indices, in position order. A live view, not a copy.</summary>
    public IReadOnlyList<int> Blocks => _blocks;

    /// <summary>Number of blocks held.</summary>
    public int Count => _blocks.Count;

    /// <summary>
    /// Token slots reserved so far: the next write lands at this position. Set by
    /// <see cref="BlockManager.TryAllocate"/> and <see cref="BlockManager.TryAppend"/>.
    /// </summary>
    public int NumTokens { get; internal set; }

    /// <summary>Leading full blocks whose prefix hash has been computed (and registered where possible).</summary>
    internal int NumHashedBlocks { get; set; }

    /// <summary>Chained prefix hash of block <c>NumHashedBlocks - 1</c> (the salt's seed hash when none).</summary>
    internal ulong LastHash { get; set; }

    /// <summary>
    /// The canonical cached block for block <c>NumHashedBlocks - 1</c> (-1 when none): the parent
    /// link the next registered block records. May differ from this table's own block when
    /// another sequence registered the same content first.
    /// </summary>
    internal int LastCanonicalBlock { get; set; }

    /// <summary>Generation of <see cref="LastCanonicalBlock"/> when it was linked; a mismatch means it was evicted.</summary>
    internal int LastCanonicalGeneration { get; set; }

    /// <summary>
    /// True once a block could not be linked to a live canonical parent (its parent was evicted or
    /// a hash collided): no later block of this sequence is registered, since none could be
    /// verified on lookup.
    /// </summary>
    internal bool PrefixChainBroken { get; set; }

    /// <summary>The backing list, for the manager.</summary>
    internal List<int> BlockList => _blocks;

    internal void ResetPrefixState()
    {
        NumTokens = 0;
        NumHashedBlocks = 0;
        LastHash = 0;
        LastCanonicalBlock = -1;
        LastCanonicalGeneration = 0;
        PrefixChainBroken = false;
    }

    internal void CopyStateFrom(BlockTable parent)
    {
        NumTokens = parent.NumTokens;
        NumHashedBlocks = parent.NumHashedBlocks;
        LastHash = parent.LastHash;
        LastCanonicalBlock = parent.LastCanonicalBlock;
        LastCanonicalGeneration = parent.LastCanonicalGeneration;
        PrefixChainBroken = parent.PrefixChainBroken;
    }
}

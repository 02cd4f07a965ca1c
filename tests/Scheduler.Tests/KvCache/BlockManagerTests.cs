using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Tests.KvCache;

public sealed class BlockManagerTests
{
    private const ulong TenantA = 0xA11CE;
    private const ulong TenantB = 0xB0B;

    private static int[] Prompt(int length, int offset = 0) => Enumerable.Range(offset, length).ToArray();

    [Fact]
    public void TryAllocate_Fresh_TakesBlocksForAllTokensAndNoCache()
    {
        var manager = new BlockManager(16, 4);
        var table = new BlockTable();

        Assert.True(manager.TryAllocate(table, Prompt(10), 10, TenantA, 0, out int cached));

        Assert.Equal(0, cached);
        Assert.Equal(3, table.Count);
        Assert.Equal(10, table.NumTokens);
        Assert.Equal(3, manager.UsedBlocks);
        Assert.Equal(13, manager.FreeBlocks);
        Assert.Equal(0, manager.CachedBlocks);
    }

    [Fact]
    public void TryAllocate_AfterCommitAndFree_ServesSameBlocksFromCache()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(13);
        var first = new BlockTable();
        Assert.True(manager.TryAllocate(first, prompt, prompt.Length, TenantA, 0, out _));
        manager.CommitFullBlocks(first, prompt, prompt.Length, TenantA);
        int[] firstBlocks = first.Blocks.ToArray();
        manager.Free(first);
        Assert.Equal(3, manager.CachedBlocks);

        var second = new BlockTable();
        Assert.True(manager.TryAllocate(second, prompt, prompt.Length, TenantA, 0, out int cached));

        Assert.Equal(12, cached);
        Assert.Equal(firstBlocks[..3], second.Blocks.Take(3).ToArray());
        Assert.Equal(4, second.Count);
        Assert.Equal(0, manager.CachedBlocks);
        Assert.Equal(3, manager.CountCachedPrefixBlocks(prompt, TenantA));
    }

    [Fact]
    public void TryAllocate_SamePromptOtherSalt_NoHit()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(13);
        var first = new BlockTable();
        Assert.True(manager.TryAllocate(first, prompt, prompt.Length, TenantA, 0, out _));
        manager.CommitFullBlocks(first, prompt, prompt.Length, TenantA);
        manager.Free(first);

        var other = new BlockTable();
        Assert.True(manager.TryAllocate(other, prompt, prompt.Length, TenantB, 0, out int cached));

        Assert.Equal(0, cached);
        Assert.Equal(0, manager.CountCachedPrefixBlocks(prompt, TenantB));
        Assert.Empty(first.Blocks.Intersect(other.Blocks));
        Assert.Equal(3, manager.CachedBlocks);
    }

    [Fact]
    public void TryAllocate_PromptFullyCached_RecomputesLastBlock()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(12);
        var first = new BlockTable();
        Assert.True(manager.TryAllocate(first, prompt, prompt.Length, TenantA, 0, out _));
        manager.CommitFullBlocks(first, prompt, prompt.Length, TenantA);
        int lastBlock = first.Blocks[2];
        manager.Free(first);
        Assert.Equal(3, manager.CountCachedPrefixBlocks(prompt, TenantA));

        var second = new BlockTable();
        Assert.True(manager.TryAllocate(second, prompt, prompt.Length, TenantA, 0, out int cached));

        // The block with the last prompt token must be computed to produce logits.
        Assert.Equal(8, cached);
        Assert.NotEqual(lastBlock, second.Blocks[2]);
        Assert.Equal(1, manager.CachedBlocks);
        Assert.Equal(4, manager.PrefixQueryBlocks);
        Assert.Equal(2, manager.PrefixHitBlocks);
    }

    [Fact]
    public void TryAllocate_PrefixStats_CountQueriedAndHitBlocks()
    {
        var manager = new BlockManager(32, 4);
        int[] shared = Prompt(8);
        int[] promptA = [.. shared, 100, 101, 102, 103, 104];
        int[] promptB = [.. shared, 200, 201, 202, 203, 204];
        var a = new BlockTable();
        Assert.True(manager.TryAllocate(a, promptA, promptA.Length, TenantA, 0, out _));
        manager.CommitFullBlocks(a, promptA, promptA.Length, TenantA);

        var b = new BlockTable();
        Assert.True(manager.TryAllocate(b, promptB, promptB.Length, TenantA, 0, out int cached));

        Assert.Equal(8, cached);
        Assert.Equal(6, manager.PrefixQueryBlocks);
        Assert.Equal(2, manager.PrefixHitBlocks);
        Assert.Equal(2, manager.GetRefCount(a.Blocks[0]));
        Assert.Equal(a.Blocks[1], b.Blocks[1]);
        Assert.NotEqual(a.Blocks[2], b.Blocks[2]);
    }

    [Fact]
    public void TryAllocate_BelowWatermark_ReturnsFalseAndChangesNothing()
    {
        var manager = new BlockManager(8, 4);
        int[] cachedPrompt = Prompt(9);
        var warm = new BlockTable();
        Assert.True(manager.TryAllocate(warm, cachedPrompt, 9, TenantA, 0, out _));
        manager.CommitFullBlocks(warm, cachedPrompt, 9, TenantA);
        manager.Free(warm);
        long queries = manager.PrefixQueryBlocks;
        int[] lru = manager.LruSnapshot().ToArray();
        int[] free = manager.FreeListSnapshot();

        var table = new BlockTable();
        bool admitted = manager.TryAllocate(table, Prompt(20), 20, TenantA, 4, out int cached);

        Assert.False(admitted);
        Assert.Equal(0, cached);
        Assert.Equal(0, table.Count);
        Assert.Equal(8, manager.FreeBlocks);
        Assert.Equal(2, manager.CachedBlocks);
        Assert.Equal(lru, manager.LruSnapshot());
        Assert.Equal(free, manager.FreeListSnapshot());
        Assert.Equal(queries, manager.PrefixQueryBlocks);
        Assert.True(manager.TryAllocate(table, Prompt(20), 20, TenantA, 3, out _));
    }

    [Fact]
    public void TryAllocate_FreeListEmpty_EvictsLeastRecentlyFreedTailFirst()
    {
        var manager = new BlockManager(6, 2);
        int[] promptA = [1, 2, 3, 4, 5];
        int[] promptB = [6, 7, 8, 9, 10];
        var a = new BlockTable();
        var b = new BlockTable();
        Assert.True(manager.TryAllocate(a, promptA, 5, TenantA, 0, out _));
        Assert.True(manager.TryAllocate(b, promptB, 5, TenantA, 0, out _));
        manager.CommitFullBlocks(a, promptA, 5, TenantA);
        manager.CommitFullBlocks(b, promptB, 5, TenantA);
        int[] aBlocks = a.Blocks.ToArray();
        int[] bBlocks = b.Blocks.ToArray();
        manager.Free(a);
        manager.Free(b);

        // Unhashed partial blocks went to the free list; hashed ones to the LRU, each table tail first.
        Assert.Equal([aBlocks[1], aBlocks[0], bBlocks[1], bBlocks[0]], manager.LruSnapshot());
        Assert.Equal(2, manager.FreeListSnapshot().Length);

        var c = new BlockTable();
        Assert.True(manager.TryAllocate(c, [50, 51, 52, 53, 54, 55, 56], 7, TenantA, 0, out _));

        // Two from the free list, then evict a's tail block, then a's head block.
        Assert.Contains(aBlocks[1], c.Blocks);
        Assert.Contains(aBlocks[0], c.Blocks);
        Assert.Equal([bBlocks[1], bBlocks[0]], manager.LruSnapshot());
        Assert.Equal(0, manager.CountCachedPrefixBlocks(promptA, TenantA));
        Assert.Equal(2, manager.CountCachedPrefixBlocks(promptB, TenantA));
    }

    [Fact]
    public void TryAppend_ChildWritesIntoForkedPartialBlock_CopiesOnWriteParentKeepsBlock()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(6);
        var parent = new BlockTable();
        Assert.True(manager.TryAllocate(parent, prompt, 6, TenantA, 0, out _));
        var child = new BlockTable();
        manager.Fork(parent, child);
        Assert.Equal(parent.Blocks, child.Blocks);
        Assert.Equal(2, manager.UsedBlocks);
        Assert.Equal(2, manager.GetRefCount(parent.Blocks[1]));
        Assert.Equal(1, manager.BlocksNeeded(child, 7));
        var copies = new List<BlockCopy>();

        Assert.True(manager.TryAppend(child, 7, copies));

        int shared = parent.Blocks[1];
        Assert.Equal([new BlockCopy(shared, child.Blocks[1])], copies);
        Assert.NotEqual(shared, child.Blocks[1]);
        Assert.Equal(parent.Blocks[0], child.Blocks[0]);
        Assert.Equal(1, manager.GetRefCount(shared));
        Assert.Equal(2, manager.GetRefCount(parent.Blocks[0]));

        // The parent now owns its block alone: it writes in place.
        copies.Clear();
        Assert.True(manager.TryAppend(parent, 7, copies));
        Assert.Empty(copies);
        Assert.Equal(shared, parent.Blocks[1]);
    }

    [Fact]
    public void TryAppend_ForkAtBlockBoundary_NoCopy()
    {
        var manager = new BlockManager(16, 4);
        var parent = new BlockTable();
        Assert.True(manager.TryAllocate(parent, Prompt(8), 8, TenantA, 0, out _));
        var child = new BlockTable();
        manager.Fork(parent, child);
        var copies = new List<BlockCopy>();

        Assert.True(manager.TryAppend(child, 9, copies));

        Assert.Empty(copies);
        Assert.Equal(3, child.Count);
        Assert.Equal(3, manager.UsedBlocks);
    }

    [Fact]
    public void TryAppend_NotEnoughBlocks_ReturnsFalseAndChangesNothing()
    {
        var manager = new BlockManager(3, 4);
        var table = new BlockTable();
        Assert.True(manager.TryAllocate(table, Prompt(10), 10, TenantA, 0, out _));
        var copies = new List<BlockCopy>();

        Assert.True(manager.TryAppend(table, 12, copies));
        Assert.False(manager.TryAppend(table, 13, copies));

        Assert.Equal(3, table.Count);
        Assert.Equal(12, table.NumTokens);
        Assert.Equal(0, manager.FreeBlocks);
    }

    [Fact]
    public void Free_TableTwice_SecondIsNoOp()
    {
        var manager = new BlockManager(4, 4);
        var table = new BlockTable();
        Assert.True(manager.TryAllocate(table, Prompt(5), 5, TenantA, 0, out _));

        manager.Free(table);
        manager.Free(table);

        Assert.Equal(4, manager.FreeBlocks);
        Assert.Equal(0, manager.UsedBlocks);
    }

    [Fact]
    public void Free_BlockAlreadyFree_ThrowsAndChangesNothing()
    {
        // A table freed on a manager that never handed its blocks out: every block is a double free.
        var owner = new BlockManager(4, 4);
        var other = new BlockManager(4, 4);
        var table = new BlockTable();
        Assert.True(owner.TryAllocate(table, Prompt(5), 5, TenantA, 0, out _));

        Assert.Throws<InvalidOperationException>(() => other.Free(table));

        Assert.Equal(4, other.FreeBlocks);
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void CommitFullBlocks_SameContentTwice_KeepsFirstAsCanonical()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(9);
        var a = new BlockTable();
        var b = new BlockTable();
        Assert.True(manager.TryAllocate(a, prompt, 9, TenantA, 0, out _));
        Assert.True(manager.TryAllocate(b, prompt, 9, TenantA, 0, out int cached));
        Assert.Equal(0, cached);

        manager.CommitFullBlocks(a, prompt, 9, TenantA);
        manager.CommitFullBlocks(b, prompt, 9, TenantA);

        Assert.True(manager.IsHashed(a.Blocks[0]));
        Assert.False(manager.IsHashed(b.Blocks[0]));
        Assert.Equal(2, manager.RegisteredHashCount);
        manager.Free(b);
        Assert.Equal(0, manager.CachedBlocks);
        manager.Free(a);
        Assert.Equal(2, manager.CachedBlocks);
    }

    [Fact]
    public void CommitFullBlocks_DecodedTokensFillBlock_RegistersIt()
    {
        var manager = new BlockManager(16, 4);
        List<int> tokens = [.. Prompt(6)];
        var table = new BlockTable();
        Assert.True(manager.TryAllocate(table, tokens.ToArray(), 6, TenantA, 0, out _));
        manager.CommitFullBlocks(table, tokens.ToArray(), 6, TenantA);
        var copies = new List<BlockCopy>();
        Assert.True(manager.TryAppend(table, 7, copies));
        tokens.Add(40);
        Assert.True(manager.TryAppend(table, 8, copies));
        tokens.Add(41);

        manager.CommitFullBlocks(table, tokens.ToArray(), 8, TenantA);
        manager.Free(table);

        int[] next = [.. tokens, 99];
        Assert.Equal(2, manager.CountCachedPrefixBlocks(next, TenantA));
        var again = new BlockTable();
        Assert.True(manager.TryAllocate(again, next, next.Length, TenantA, 0, out int cached));
        Assert.Equal(8, cached);
    }

    [Fact]
    public void ResetPrefixCache_DropsCachedBlocksToFreeList()
    {
        var manager = new BlockManager(16, 4);
        int[] prompt = Prompt(13);
        var table = new BlockTable();
        Assert.True(manager.TryAllocate(table, prompt, 13, TenantA, 0, out _));
        manager.CommitFullBlocks(table, prompt, 13, TenantA);
        manager.Free(table);

        manager.ResetPrefixCache();

        Assert.Equal(0, manager.CachedBlocks);
        Assert.Equal(16, manager.FreeBlocks);
        Assert.Equal(0, manager.CountCachedPrefixBlocks(prompt, TenantA));
        Assert.Equal(0, manager.RegisteredHashCount);
    }

    [Fact]
    public void TryAllocate_PrefixCachingDisabled_NeverHits()
    {
        var manager = new BlockManager(16, 4, enablePrefixCaching: false);
        int[] prompt = Prompt(13);
        var table = new BlockTable();
        Assert.True(manager.TryAllocate(table, prompt, 13, TenantA, 0, out _));
        manager.CommitFullBlocks(table, prompt, 13, TenantA);
        manager.Free(table);

        Assert.True(manager.TryAllocate(table, prompt, 13, TenantA, 0, out int cached));

        Assert.Equal(0, cached);
        Assert.Equal(0, manager.CachedBlocks);
    }

    [Fact]
    public void PrefixSalt_For_StablePerTenantAndSecret()
    {
        byte[] secret = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] otherSecret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

        Assert.Equal(PrefixSalt.For(secret, "acme"), PrefixSalt.For(secret, "acme"));
        Assert.NotEqual(PrefixSalt.For(secret, "acme"), PrefixSalt.For(secret, "globex"));
        Assert.NotEqual(PrefixSalt.For(secret, "acme"), PrefixSalt.For(otherSecret, "acme"));
        Assert.NotEqual(PrefixSalt.For(secret, new string('x', 300)), PrefixSalt.For(secret, new string('x', 301)));
        Assert.Throws<ArgumentException>(() => PrefixSalt.For(secret.AsSpan(0, 8), "acme"));
    }
}

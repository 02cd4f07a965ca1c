using CsCheck;
using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Tests.KvCache;

/// <summary>
/// Random operation sequences against a small manager, checked after every step against a model:
/// which tables hold which blocks, and what each block's KV holds (salt and the token prefix that
/// was written into it). The content model catches wrong hits, writes into shared or cached
/// blocks, and lost copy-on-write.
/// </summary>
public sealed class BlockManagerPropertyTests
{
    private const int NumBlocks = 24;
    private const int BlockSize = 4;

    /// <summary>One operation: Kind picks it, A and B parametrize it, Prompt feeds allocations.</summary>
    public readonly record struct Op(int Kind, int A, int B, int[] Prompt)
    {
        public override string ToString() => $"({Kind},{A},{B},[{string.Join(",", Prompt)}])";
    }

    // Prompts are one of a few shared prefixes (0 to 3 blocks) plus a short tail from a two-token
    // alphabet, so prefixes collide often and tails sometimes do.
    private static readonly int[][] SharedPrefixes = [[], [7, 7, 7, 7], [7, 7, 7, 7, 8, 8, 8, 8], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]];

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Int[0, 19], Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.Int[0, SharedPrefixes.Length - 1], Gen.Int[0, 1].Array[1, 9])
            .Select((kind, a, b, prefix, tail) => new Op(kind, a, b, [.. SharedPrefixes[prefix], .. tail]));

    [Fact]
    public void RandomOperations_KeepBlockAccountingAndCacheContentConsistent()
    {
        long totalHits = 0;
        GenOp.Array[1, 80].Sample(
            ops =>
            {
                totalHits += Run(ops, enablePrefixCaching: true);
            },
            iter: 2000,
            threads: 1,
            seed: null);

        // Otherwise the run proved nothing about prefix hits.
        Assert.True(totalHits > 100, $"only {totalHits} prefix hits");
    }

    [Fact]
    public void RandomOperations_PrefixCachingDisabled_KeepBlockAccounting()
    {
        GenOp.Array[1, 60].Sample(ops => Assert.Equal(0, Run(ops, enablePrefixCaching: false)), iter: 500, threads: 1);
    }

    private sealed class Seq
    {
        public required BlockTable Table { get; init; }
        public required List<int> Tokens { get; init; }
        public required ulong Salt { get; init; }
    }

    private static long Run(Op[] ops, bool enablePrefixCaching)
    {
        var manager = new BlockManager(NumBlocks, BlockSize, enablePrefixCaching);
        var live = new List<Seq>();
        var content = new string?[NumBlocks];
        var copies = new List<BlockCopy>();

        foreach (Op op in ops)
        {
            switch (op.Kind)
            {
                case <= 5:
                {
                    ulong salt = (ulong)(op.B % 2) + 1;
                    int numTokens = op.A % 3 == 0 ? 1 + (op.A % op.Prompt.Length) : op.Prompt.Length;
                    var seq = new Seq { Table = new BlockTable(), Tokens = [.. op.Prompt], Salt = salt };
                    int freeBefore = manager.FreeBlocks;
                    int watermark = op.B % 3;
                    if (manager.TryAllocate(seq.Table, op.Prompt, numTokens, salt, watermark, out int cached))
                    {
                        Assert.Equal(0, cached % BlockSize);
                        Assert.True(cached <= op.Prompt.Length - 1, "the last prompt token was served from cache");
                        Assert.True(manager.FreeBlocks >= watermark);
                        for (int i = 0; i < cached / BlockSize; i++)
                        {
                            Assert.Equal(Key(salt, seq.Tokens, (i + 1) * BlockSize), content[seq.Table.Blocks[i]]);
                        }

                        Write(manager, seq, cached, seq.Table.NumTokens, content);
                        live.Add(seq);
                    }
                    else
                    {
                        Assert.Equal(0, seq.Table.Count);
                        Assert.Equal(freeBefore, manager.FreeBlocks);
                    }

                    break;
                }

                case <= 9 when live.Count > 0:
                {
                    Seq seq = live[op.A % live.Count];
                    int from = seq.Table.NumTokens;
                    int numTokens = from + 1 + (op.B % 3);
                    int expectedNeed = manager.BlocksNeeded(seq.Table, numTokens);
                    int freeBefore = manager.FreeBlocks;
                    copies.Clear();
                    if (manager.TryAppend(seq.Table, numTokens, copies))
                    {
                        Assert.Equal(freeBefore - expectedNeed, manager.FreeBlocks);
                        foreach (BlockCopy copy in copies)
                        {
                            content[copy.Destination] = content[copy.Source];
                        }

                        while (seq.Tokens.Count < numTokens)
                        {
                            seq.Tokens.Add(op.B % 3);
                        }

                        Write(manager, seq, from, numTokens, content);
                    }
                    else
                    {
                        Assert.True(expectedNeed > freeBefore);
                        Assert.Equal(from, seq.Table.NumTokens);
                    }

                    break;
                }

                case <= 11 when live.Count > 0:
                {
                    Seq parent = live[op.A % live.Count];
                    var child = new Seq { Table = new BlockTable(), Tokens = [.. parent.Tokens], Salt = parent.Salt };
                    manager.Fork(parent.Table, child.Table);
                    live.Add(child);
                    break;
                }

                case <= 15 when live.Count > 0:
                {
                    Seq seq = live[op.A % live.Count];
                    int numComputed = op.B % (seq.Table.NumTokens + 1);
                    manager.CommitFullBlocks(seq.Table, seq.Tokens.ToArray(), numComputed, seq.Salt);
                    break;
                }

                case <= 18 when live.Count > 0:
                {
                    int index = op.A % live.Count;
                    manager.Free(live[index].Table);
                    Assert.Equal(0, live[index].Table.Count);
                    live.RemoveAt(index);
                    break;
                }

                case 19:
                    manager.ResetPrefixCache();
                    break;
            }

            CheckInvariants(manager, live, content);
        }

        foreach (Seq seq in live)
        {
            manager.Free(seq.Table);
        }

        Assert.Equal(0, manager.UsedBlocks);
        Assert.Equal(NumBlocks, manager.FreeBlocks);
        return manager.PrefixHitBlocks;
    }

    /// <summary>Records the writes of positions [from, to): each must land in a block this table alone holds and no cache entry covers.</summary>
    private static void Write(BlockManager manager, Seq seq, int from, int to, string?[] content)
    {
        for (int position = from; position < to; position++)
        {
            int block = seq.Table.Blocks[position / BlockSize];
            Assert.Equal(1, manager.GetRefCount(block));
            Assert.False(manager.IsHashed(block), $"write into cached block {block}");
            content[block] = Key(seq.Salt, seq.Tokens, position + 1);
        }
    }

    private static string Key(ulong salt, List<int> tokens, int length) =>
        $"{salt}:{string.Join(",", tokens.Take(length))}";

    private static void CheckInvariants(BlockManager manager, List<Seq> live, string?[] content)
    {
        var holders = new int[NumBlocks];
        foreach (Seq seq in live)
        {
            Assert.Equal(seq.Table.Count, seq.Table.Blocks.Distinct().Count());
            Assert.Equal((seq.Table.NumTokens + BlockSize - 1) / BlockSize, seq.Table.Count);
            foreach (int block in seq.Table.Blocks)
            {
                holders[block]++;
            }
        }

        int[] free = manager.FreeListSnapshot();
        List<int> lru = manager.LruSnapshot();
        var place = new int[NumBlocks];
        foreach (int block in free)
        {
            place[block]++;
            Assert.Equal(0, holders[block]);
            Assert.False(manager.IsHashed(block));
        }

        foreach (int block in lru)
        {
            place[block]++;
            Assert.Equal(0, holders[block]);
            Assert.True(manager.TryGetBlockHash(block, out ulong hash));
            Assert.Equal(block, manager.LookupHash(hash));
        }

        int used = 0;
        int hashed = 0;
        for (int block = 0; block < NumBlocks; block++)
        {
            Assert.Equal(holders[block], manager.GetRefCount(block));
            if (holders[block] > 0)
            {
                place[block]++;
                used++;
            }

            Assert.Equal(1, place[block]);
            if (manager.TryGetBlockHash(block, out ulong hash))
            {
                hashed++;
                Assert.Equal(block, manager.LookupHash(hash));

                // A registered block holds a whole block of KV.
                Assert.NotNull(content[block]);
                Assert.Equal(0, content[block]!.Split(':')[1].Split(',').Length % BlockSize);
            }
        }

        Assert.Equal(hashed, manager.RegisteredHashCount);
        Assert.Equal(used, manager.UsedBlocks);
        Assert.Equal(lru.Count, manager.CachedBlocks);
        Assert.Equal(free.Length + lru.Count, manager.FreeBlocks);
        Assert.Equal(NumBlocks, free.Length + used + lru.Count);

        // Whatever path a block took into a table (fresh, prefix hit, fork, copy-on-write), its KV is
        // exactly this sequence's tokens under this sequence's salt.
        foreach (Seq seq in live)
        {
            for (int i = 0; i < seq.Table.Count; i++)
            {
                int length = Math.Min(seq.Table.NumTokens, (i + 1) * BlockSize);
                Assert.Equal(Key(seq.Salt, seq.Tokens, length), content[seq.Table.Blocks[i]]);
            }
        }
    }
}

using Inference.Scheduler.KvCache;

namespace Inference.Scheduler.Tests.KvCache;

public sealed class BlockPoolTests
{
    [Fact]
    public void TryAllocate_UntilEmpty_HandsOutEachBlockOnceThenFails()
    {
        var pool = new BlockPool(8);
        var seen = new HashSet<int>();
        while (pool.TryAllocate(out int block))
        {
            Assert.True(seen.Add(block), $"block {block} handed out twice");
        }

        Assert.Equal(8, seen.Count);
        Assert.Equal(0, pool.FreeCount);
        Assert.Equal(8, pool.UsedCount);
    }

    [Fact]
    public void Free_Twice_Throws()
    {
        var pool = new BlockPool(2);
        Assert.True(pool.TryAllocate(out int block));
        pool.Free(block);
        Assert.Throws<InvalidOperationException>(() => pool.Free(block));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Free(5));
    }

    [Fact]
    public void RandomAllocateAndFree_KeepsFreePlusUsedEqualToCapacity()
    {
        var pool = new BlockPool(32);
        var held = new List<int>();
        var random = new Random(3);
        for (int i = 0; i < 5000; i++)
        {
            if (held.Count > 0 && random.Next(2) == 0)
            {
                int index = random.Next(held.Count);
                pool.Free(held[index]);
                held.RemoveAt(index);
            }
            else if (pool.TryAllocate(out int block))
            {
                Assert.DoesNotContain(block, held);
                held.Add(block);
            }

            Assert.Equal(32, pool.FreeCount + pool.UsedCount);
            Assert.Equal(held.Count, pool.UsedCount);
        }
    }
}

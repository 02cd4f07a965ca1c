using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Inference.Scheduler.KvCache;

namespace Inference.Bench;

/// <summary>
/// The block manager's per-step operations at serving sizes (4,096 blocks of 16 tokens).
/// Goal: no allocation in steady state. Runs in process with a short job: the manager is pure
/// C#, so there is nothing a separate build of the bench would isolate.
/// Run: dotnet run -c Release --project bench/Inference.Bench -- blocks
/// </summary>
[Config(typeof(ShortInProcessConfig))]
[MemoryDiagnoser]
public class BlockManagerBenchmark
{
    private const int NumBlocks = 4096;
    private const int BlockSize = 16;
    private const ulong Salt = 0x5EED;

    private readonly List<BlockCopy> _copies = new(4);
    private readonly BlockTable _table = new(128);
    private BlockManager _manager = null!;
    private int[] _prompt64Blocks = null!;
    private int[] _prompt512 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _manager = new BlockManager(NumBlocks, BlockSize);
        _prompt64Blocks = new int[64 * BlockSize];
        for (int i = 0; i < _prompt64Blocks.Length; i++)
        {
            _prompt64Blocks[i] = 100_000 + i;
        }

        _prompt512 = new int[512];
        for (int i = 0; i < _prompt512.Length; i++)
        {
            _prompt512[i] = (i * 7919) % 32_000;
        }

        // Warm cache: the 512-token prompt's 32 blocks are cached (evictable).
        var warm = new BlockTable();
        _manager.TryAllocate(warm, _prompt512, _prompt512.Length, Salt, 0, out _);
        _manager.CommitFullBlocks(warm, _prompt512, _prompt512.Length, Salt);
        _manager.Free(warm);
    }

    /// <summary>Admit and release a 1,024-token sequence (64 blocks) with no cached prefix.</summary>
    [Benchmark]
    public int AllocateFree64Blocks()
    {
        _manager.TryAllocate(_table, _prompt64Blocks, _prompt64Blocks.Length, Salt, 0, out int cached);
        _manager.Free(_table);
        return cached;
    }

    /// <summary>One decode token's reservation, amortized over growing a sequence to 1,024 tokens and freeing it.</summary>
    [Benchmark(OperationsPerInvoke = 1024)]
    public int AppendOneToken()
    {
        for (int n = 1; n <= 1024; n++)
        {
            _manager.TryAppend(_table, n, _copies);
        }

        int count = _table.Count;
        _manager.Free(_table);
        return count;
    }

    /// <summary>Look up a 512-token prompt (32 full blocks) in a warm cache, no side effects.</summary>
    [Benchmark]
    public int PrefixLookup512()
    {
        return _manager.CountCachedPrefixBlocks(_prompt512, Salt);
    }

    /// <summary>Admit the 512-token prompt with 31 cached blocks (the last is recomputed), then free it.</summary>
    [Benchmark]
    public int AllocateWithPrefixHit512()
    {
        _manager.TryAllocate(_table, _prompt512, _prompt512.Length, Salt, 0, out int cached);
        _manager.Free(_table);
        return cached;
    }

    private sealed class ShortInProcessConfig : ManualConfig
    {
        public ShortInProcessConfig()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
        }
    }
}

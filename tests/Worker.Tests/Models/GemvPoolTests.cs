using Inference.Worker.Models;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Models;

public sealed class GemvPoolTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    // y (+)= x @ w (+ bias) by the pool, against libtorch's mm on the same data.
    private static unsafe float Check(GemvPool pool, Generator random, int rows, int inDim, int outDim, bool bias, bool accumulate)
    {
        using var scope = NewDisposeScope();
        Tensor x = randn([rows, inDim], generator: random);
        Tensor w = randn([inDim, outDim], generator: random);
        Tensor b = randn([outDim], generator: random);
        Tensor y = randn([rows, outDim], generator: random);
        Tensor expected = accumulate ? y + x.mm(w) : (bias ? x.mm(w) + b : x.mm(w));
        pool.Run(HostKernels.Data(x), rows, inDim, HostKernels.Data(w), outDim, bias && !accumulate ? HostKernels.Data(b) : null, HostKernels.Data(y), accumulate);
        return RelativeError(y, expected);
    }

    private static float RelativeError(Tensor y, Tensor expected) =>
        (y - expected).abs().max().item<float>() / Math.Max(1f, expected.abs().max().item<float>());

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Run_EveryShapeBiasAndAccumulate_MatchesLibtorchMm(int helpers)
    {
        Assert.True(GemvPool.IsSupported, "AVX2 and FMA are needed by the host products");
        using var pool = new GemvPool(helpers);
        using var random = new Generator(11);
        foreach (int rows in new[] { 1, 2, 3, GemvPool.StreamingRows, GemvPool.StreamingRows + 1, 7, 8, 13, 64 })
        {
            foreach ((int inDim, int outDim) in new[] { (256, 512), (13, 8), (64, 1032), (512, 4096) })
            {
                foreach ((bool bias, bool accumulate) in new[] { (false, false), (true, false), (false, true) })
                {
                    float error = Check(pool, random, rows, inDim, outDim, bias, accumulate);
                    Assert.True(error < 1e-5f, $"rows {rows}, {inDim}x{outDim}, bias {bias}, accumulate {accumulate}: relative error {error}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public unsafe void Run_Avx512AndAvx2StreamingLoops_BitwiseTheSame_AndTheAvx2LoopMatchesLibtorch(int helpers)
    {
        // Where the machine has AVX-512 the streaming products (up to 4 rows: decode) run 16 columns a vector; the
        // AVX2 loop stays for the 8-column rest and for machines without it. Same FMAs per element in the same order.
        using var pool = new GemvPool(helpers);
        using var random = new Generator(31);
        bool had = GemvPool.UseAvx512;
        try
        {
            foreach (int rows in new[] { 1, 2, 3, GemvPool.StreamingRows })
            {
                foreach ((int inDim, int outDim) in new[] { (256, 512), (13, 8), (70, 264), (67, 1032), (512, 4096) })
                {
                    foreach ((bool bias, bool accumulate) in new[] { (false, false), (true, false), (false, true) })
                    {
                        using var scope = NewDisposeScope();
                        Tensor x = randn([rows, inDim], generator: random);
                        Tensor w = randn([inDim, outDim], generator: random);
                        Tensor b = randn([outDim], generator: random);
                        Tensor y0 = randn([rows, outDim], generator: random);
                        Tensor expected = accumulate ? y0 + x.mm(w) : (bias ? x.mm(w) + b : x.mm(w));
                        float[] Product(bool wide)
                        {
                            GemvPool.UseAvx512 = wide;
                            Tensor y = y0.clone();
                            pool.Run(HostKernels.Data(x), rows, inDim, HostKernels.Data(w), outDim, bias && !accumulate ? HostKernels.Data(b) : null, HostKernels.Data(y), accumulate);
                            return y.data<float>().ToArray();
                        }

                        float[] narrow = Product(false);
                        float error = RelativeError(tensor(narrow).reshape(rows, outDim), expected);
                        Assert.True(error < 1e-5f, $"AVX2 loop, rows {rows}, {inDim}x{outDim}: relative error {error}");
                        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) // the wide loop runs wherever the CPU has it
                        {
                            Assert.Equal(narrow, Product(true));
                        }
                    }
                }
            }
        }
        finally
        {
            GemvPool.UseAvx512 = had;
        }
    }

    [Fact]
    public unsafe void Run_RejectsNoRowsOrUnalignedColumns()
    {
        using var pool = new GemvPool(1);
        Assert.Throws<ArgumentException>(() => pool.Run(null, 0, 8, null, 8, null, null, false));
        Assert.Throws<ArgumentException>(() => pool.Run(null, 1, 8, null, 12, null, null, false));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public unsafe void Run_ARowsResult_IsBitwiseTheSameWhateverTheRowCount(int helpers)
    {
        // Streaming (up to 4 rows) and tiled (more) products do the same FMAs in the same order per element, so a
        // sequence's logits never depend on how many others share its step (batch invariance, bitwise).
        using var pool = new GemvPool(helpers);
        using var generator = new Generator(21);
        const int inDim = 70;
        const int outDim = 264;
        Tensor x = randn([37, inDim], generator: generator);
        Tensor w = randn([inDim, outDim], generator: generator);
        Tensor bias = randn([outDim], generator: generator);
        float[] Row(int rows, int row, bool accumulate)
        {
            Tensor y = accumulate ? x.narrow(1, 0, 1).expand(37, outDim).contiguous() : zeros([37, outDim]);
            pool.Run(HostKernels.Data(x), rows, inDim, HostKernels.Data(w), outDim, accumulate ? null : HostKernels.Data(bias), HostKernels.Data(y), accumulate);
            return y[row].data<float>().ToArray();
        }

        foreach (bool accumulate in new[] { false, true })
        {
            float[] alone = Row(1, 0, accumulate);
            foreach (int rows in new[] { 2, 4, 5, 8, 9, 37 })
            {
                Assert.Equal(alone, Row(rows, 0, accumulate));
            }

            float[] third = Row(3, 2, accumulate);
            foreach (int rows in new[] { 4, 6, 16, 37 })
            {
                Assert.Equal(third, Row(rows, 2, accumulate));
            }
        }
    }

    [Fact]
    public async Task For_CoversEveryItemOnceOnEveryThread_AndInterleavesWithProducts()
    {
        // Parallel loops (the host path's attention) and products share the helpers and their hand-offs.
        await Task.Run(() =>
        {
            using var pool = new GemvPool(Math.Max(1, Environment.ProcessorCount - 1));
            using var random = new Generator(8);
            var shapes = new Random(4);
            for (int i = 0; i < 2000; i++)
            {
                int count = shapes.Next(1, 50);
                int[] seen = new int[count];
                var parts = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
                pool.For(count, (part, start, end) =>
                {
                    parts[part] = true;
                    for (int k = start; k < end; k++)
                    {
                        Interlocked.Increment(ref seen[k]);
                    }
                });
                Assert.All(seen, n => Assert.Equal(1, n));
                Assert.Equal(Math.Min(count, pool.Parts), parts.Count);
                Assert.All(parts.Keys, p => Assert.InRange(p, 0, pool.Parts - 1));
                float error = Check(pool, random, shapes.Next(1, 9), shapes.Next(1, 30), 8 * shapes.Next(1, 20), bias: false, accumulate: i % 2 == 0);
                Assert.True(error < 1e-5f, $"call {i}: relative error {error}");
                if (i % 11 == 0)
                {
                    pool.Park();
                }
            }
        }).WaitAsync(Timeout);
    }

    [Fact]
    public async Task Run_ThousandsOfCallsWithParksBetween_AllCorrectAndNoHang()
    {
        // Helpers alternate between spinning (back-to-back products) and sleeping (parked, as after a forward), the
        // hand-offs that can lose a wake-up; a lost one hangs here, a torn job gives a wrong product.
        await Task.Run(() =>
        {
            using var pool = new GemvPool(Math.Max(1, Environment.ProcessorCount - 1));
            using var random = new Generator(5);
            var shapes = new Random(3);
            for (int i = 0; i < 3000; i++)
            {
                int rows = shapes.Next(1, 2 * GemvPool.StreamingRows + 3);
                int outDim = 8 * shapes.Next(8, 40);
                float error = Check(pool, random, rows, shapes.Next(1, 40), outDim, bias: i % 3 == 0, accumulate: i % 5 == 0);
                Assert.True(error < 1e-5f, $"call {i}: relative error {error}");
                if (i % 7 == 0)
                {
                    pool.Park();
                }

                if (i % 97 == 0)
                {
                    Thread.Sleep(2); // long enough for helpers to stop spinning and block
                }
            }
        }).WaitAsync(Timeout);
    }
}

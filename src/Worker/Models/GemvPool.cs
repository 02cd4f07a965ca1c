using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inference.Worker.Models;

/// <summary>
/// Matrix products for the host path: y[m] (+)= x[m] @ wT (+ bias), with wT in the model's [in, out] layout, split by
/// output columns between the calling thread and persistent helper threads. At decode a step is a stream of ~25
/// weight reads of 0.25-4 MB; one core streams ~18 GB/s here and libtorch's mm keeps one core on them (at every
/// batch size measured, up to 64 rows), so splitting the columns over every core is what reaches the machine's
/// bandwidth at small batches and its compute at large ones. Up to <see cref="StreamingRows"/> rows stream w row by
/// row; more rows run in 4 x 16 register tiles over packed panels of w. Either way every output element is its init (bias, 0 or y) followed
/// by one FMA per input in ascending order, so a row's result is bitwise the same whatever else is in the batch.
/// Helpers spin briefly between products (a step's products come microseconds apart), then sleep; the caller's
/// thread is the only one that posts work. Dispose stops the helpers.
/// </summary>
internal sealed unsafe class GemvPool : IDisposable
{
    /// <summary>Rows up to which a product streams w row by row (bandwidth-bound); more run in register tiles.</summary>
    public const int StreamingRows = 4;

    private const int SpinIterations = 4_000;
    private const int PackColumns = 128;
    private readonly Helper[] _helpers;
    private readonly PackSpace[] _packs;
    private Job _job;
    private volatile bool _parked = true;

    public GemvPool(int helpers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(helpers);
        _helpers = new Helper[helpers];
        _packs = new PackSpace[helpers + 1];
        for (int i = 0; i < helpers; i++)
        {
            _helpers[i] = new Helper(this, i + 1);
        }
    }

    /// <summary>Whether the host product runs here (AVX2 and FMA; otherwise callers use libtorch).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// Whether the streaming products use 512-bit vectors: where AVX-512F is there and the runtime deems 512-bit
    /// vectors fast (not on CPUs that slow their clocks for them). Bitwise the same results; tests turn it off to cover
    /// the AVX2 loop on such machines.
    /// </summary>
    internal static bool UseAvx512 { get; set; } = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    private struct Job
    {
        public float* X;
        public int Rows;
        public int In;
        public float* W;
        public int Out;
        public float* Bias;
        public float* Y;
        public bool Accumulate;
        public int Parts;

        // A parallel loop instead of a product: items [0, Count) split into Parts contiguous ranges.
        public Action<int, int, int>? Body;
        public int Count;
    }

    /// <summary>
    /// y[m, :] = (accumulate ? y[m, :] : bias or 0) + x[m, :] @ w, for x [rows, in], w [in, out], y [rows, out], all
    /// row-major float32; out a multiple of 8.
    /// </summary>
    public void Run(float* x, int rows, int inDim, float* w, int outDim, float* bias, float* y, bool accumulate)
    {
        if (rows < 1 || outDim % 8 != 0)
        {
            throw new ArgumentException($"host product takes at least one row and a multiple of 8 columns, got {rows} x {outDim}");
        }

        // Parts of at least 64 columns: below that the hand-off costs more than it saves.
        int parts = Math.Min(_helpers.Length + 1, Math.Max(1, outDim / 64));
        _parked = false;
        _job = new Job { X = x, Rows = rows, In = inDim, W = w, Out = outDim, Bias = bias, Y = y, Accumulate = accumulate, Parts = parts };
        for (int i = 0; i < parts - 1; i++)
        {
            _helpers[i].Post();
        }

        Compute(in _job, 0);
        for (int i = 0; i < parts - 1; i++)
        {
            _helpers[i].WaitDone();
        }
    }

    /// <summary>
    /// Runs body(part, start, end) over items [0, <paramref name="count"/>) split into contiguous ranges, one per
    /// thread (the caller's is part 0); returns when every range is done. Parts never exceed <see cref="Parts"/>.
    /// </summary>
    public void For(int count, Action<int, int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0)
        {
            return;
        }

        int parts = Math.Min(Parts, count);
        _parked = false;
        _job = new Job { Body = body, Count = count, Parts = parts };
        for (int i = 0; i < parts - 1; i++)
        {
            _helpers[i].Post();
        }

        Compute(in _job, 0);
        for (int i = 0; i < parts - 1; i++)
        {
            _helpers[i].WaitDone();
        }
    }

    /// <summary>Threads work is split over: the caller and the helpers.</summary>
    public int Parts => _helpers.Length + 1;

    /// <summary>
    /// The caller is done with products for a while (libtorch's own threads are about to run): helpers sleep at once
    /// instead of spinning, so they never compete with those for the cores. The next <see cref="Run"/> wakes them.
    /// </summary>
    public void Park() => _parked = true;

    private void Compute(in Job job, int part)
    {
        if (job.Body is { } body)
        {
            int start = (int)((long)job.Count * part / job.Parts);
            int end = (int)((long)job.Count * (part + 1) / job.Parts);
            if (start < end)
            {
                body(part, start, end);
            }

            return;
        }

        int chunk = ((job.Out / 8) + job.Parts - 1) / job.Parts * 8;
        int c0 = part * chunk;
        int c1 = Math.Min(job.Out, c0 + chunk);
        if (c0 >= c1)
        {
            return;
        }

        if (job.Rows <= StreamingRows)
        {
            Columns(job.X, job.Rows, job.In, job.W, job.Out, job.Bias, job.Y, job.Accumulate, c0, c1);
        }
        else
        {
            Tiled(in job, part, c0, c1);
        }
    }

    // Columns [c0, c1) of many rows, as BLAS does it: the part's columns of w are first packed into 16-column panels
    // (each panel's inputs contiguous, read row by row from w so the hardware prefetchers stream it), then 4-row x
    // 16-column tiles run over each panel with their eight accumulators in registers for the whole input, every row
    // group reusing the panel from L1/L2. Unpacked, a tile's loads stride a whole w row apart (a new page each) and
    // ran at a quarter of this. Leftover rows run 1 x 16, an 8-column edge 1 x 8.
    private void Tiled(in Job job, int part, int c0, int c1)
    {
        // Blocks of PackColumns columns: a block's panels (128 KB at 256 inputs) stay in L2 while every row group
        // runs over them; packing the whole part first spilled to L3 and cost as much as it saved at 8 rows.
        for (int b0 = c0; b0 < c1; b0 += PackColumns)
        {
            TiledBlock(in job, part, b0, Math.Min(c1, b0 + PackColumns));
        }
    }

    private void TiledBlock(in Job job, int part, int c0, int c1)
    {
        int inDim = job.In;
        int outDim = job.Out;
        int panels = (c1 - c0) / 16;
        bool edge = (c1 - c0) % 16 != 0; // blocks are multiples of 8 columns
        float* pack = PackBuffer(part, (long)(c1 - c0) * inDim);
        float* edgePanel = pack + ((long)panels * 16 * inDim);
        for (int i = 0; i < inDim; i++)
        {
            float* src = job.W + ((long)i * outDim) + c0;
            for (int p = 0; p < panels; p++)
            {
                float* dst = pack + ((long)p * 16 * inDim) + (i * 16);
                Avx.Store(dst, Avx.LoadVector256(src + (p * 16)));
                Avx.Store(dst + 8, Avx.LoadVector256(src + (p * 16) + 8));
            }

            if (edge)
            {
                Avx.Store(edgePanel + (i * 8), Avx.LoadVector256(src + (panels * 16)));
            }
        }

        int rows = job.Rows;
        for (int p = 0; p < panels; p++)
        {
            float* panel = pack + ((long)p * 16 * inDim);
            int c = c0 + (p * 16);
            float* bias = job.Bias is null ? null : job.Bias + c;
            int m = 0;
            for (; m + 4 <= rows; m += 4)
            {
                Tile4x16(job.X + ((long)m * inDim), inDim, panel, bias, job.Y + ((long)m * outDim) + c, outDim, job.Accumulate);
            }

            for (; m < rows; m++)
            {
                Tile1x8(job.X + ((long)m * inDim), inDim, panel, 16, bias, job.Y + ((long)m * outDim) + c, job.Accumulate);
                Tile1x8(job.X + ((long)m * inDim), inDim, panel + 8, 16, bias is null ? null : bias + 8, job.Y + ((long)m * outDim) + c + 8, job.Accumulate);
            }
        }

        if (edge)
        {
            int c = c0 + (panels * 16);
            for (int m = 0; m < rows; m++)
            {
                Tile1x8(job.X + ((long)m * inDim), inDim, edgePanel, 8, job.Bias is null ? null : job.Bias + c, job.Y + ((long)m * outDim) + c, job.Accumulate);
            }
        }
    }

    // Four rows x 16 columns from a packed panel (input i's 16 weights at panel + 16 i); y rows yStride apart.
    private static void Tile4x16(float* x, int inDim, float* panel, float* bias, float* y, int yStride, bool accumulate)
    {
        float* y1 = y + yStride;
        float* y2 = y1 + yStride;
        float* y3 = y2 + yStride;
        Vector256<float> a00, a01, a10, a11, a20, a21, a30, a31;
        if (accumulate)
        {
            a00 = Avx.LoadVector256(y);
            a01 = Avx.LoadVector256(y + 8);
            a10 = Avx.LoadVector256(y1);
            a11 = Avx.LoadVector256(y1 + 8);
            a20 = Avx.LoadVector256(y2);
            a21 = Avx.LoadVector256(y2 + 8);
            a30 = Avx.LoadVector256(y3);
            a31 = Avx.LoadVector256(y3 + 8);
        }
        else
        {
            Vector256<float> b0 = bias is null ? Vector256<float>.Zero : Avx.LoadVector256(bias);
            Vector256<float> b1 = bias is null ? Vector256<float>.Zero : Avx.LoadVector256(bias + 8);
            a00 = a10 = a20 = a30 = b0;
            a01 = a11 = a21 = a31 = b1;
        }

        float* x0 = x;
        float* x1 = x0 + inDim;
        float* x2 = x1 + inDim;
        float* x3 = x2 + inDim;
        float* wi = panel;
        for (int i = 0; i < inDim; i++, wi += 16)
        {
            Vector256<float> v0 = Avx.LoadVector256(wi);
            Vector256<float> v1 = Avx.LoadVector256(wi + 8);
            Vector256<float> s = Vector256.Create(x0[i]);
            a00 = Fma.MultiplyAdd(v0, s, a00);
            a01 = Fma.MultiplyAdd(v1, s, a01);
            s = Vector256.Create(x1[i]);
            a10 = Fma.MultiplyAdd(v0, s, a10);
            a11 = Fma.MultiplyAdd(v1, s, a11);
            s = Vector256.Create(x2[i]);
            a20 = Fma.MultiplyAdd(v0, s, a20);
            a21 = Fma.MultiplyAdd(v1, s, a21);
            s = Vector256.Create(x3[i]);
            a30 = Fma.MultiplyAdd(v0, s, a30);
            a31 = Fma.MultiplyAdd(v1, s, a31);
        }

        Avx.Store(y, a00);
        Avx.Store(y + 8, a01);
        Avx.Store(y1, a10);
        Avx.Store(y1 + 8, a11);
        Avx.Store(y2, a20);
        Avx.Store(y2 + 8, a21);
        Avx.Store(y3, a30);
        Avx.Store(y3 + 8, a31);
    }

    // One row x 8 columns whose weights for input i are at w + i * wStride.
    private static void Tile1x8(float* x, int inDim, float* w, int wStride, float* bias, float* y, bool accumulate)
    {
        Vector256<float> a = accumulate ? Avx.LoadVector256(y) : bias is null ? Vector256<float>.Zero : Avx.LoadVector256(bias);
        for (int i = 0; i < inDim; i++)
        {
            a = Fma.MultiplyAdd(Avx.LoadVector256(w + ((long)i * wStride)), Vector256.Create(x[i]), a);
        }

        Avx.Store(y, a);
    }

    // The part's packing buffer (32-byte aligned), grown as needed and kept.
    private float* PackBuffer(int part, long floats)
    {
        ref PackSpace space = ref _packs[part];
        if (space.Floats < floats)
        {
            if (space.Pointer is not null)
            {
                NativeMemory.AlignedFree(space.Pointer);
            }

            space.Pointer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 32);
            space.Floats = floats;
        }

        return space.Pointer;
    }

    private struct PackSpace
    {
        public float* Pointer;
        public long Floats;
    }

    // Columns [c0, c1): each row's y chunk is initialised, then four input rows of w are folded in per pass (one y
    // load/store per four FMAs), streaming w row-major. Every row m reuses the w vector it loaded. With AVX-512 the
    // columns go 16 at a time (an 8-column rest with AVX2): the same FMA per element in the same order, so the
    // result is bitwise the one of the AVX2 loop; half the instructions per byte of w.
    private static void Columns(float* x, int rows, int inDim, float* w, int outDim, float* bias, float* y, bool accumulate, int c0, int c1)
    {
        int wide = UseAvx512 ? c0 + ((c1 - c0) / 16 * 16) : c0; // columns [c0, wide) 16 at a time, [wide, c1) 8 at a time
        for (int m = 0; m < rows; m++)
        {
            float* ym = y + ((long)m * outDim);
            if (!accumulate)
            {
                int c = c0;
                for (; c < wide; c += 16)
                {
                    Avx512F.Store(ym + c, bias is null ? Vector512<float>.Zero : Avx512F.LoadVector512(bias + c));
                }

                for (; c < c1; c += 8)
                {
                    Avx.Store(ym + c, bias is null ? Vector256<float>.Zero : Avx.LoadVector256(bias + c));
                }
            }
        }

        int i = 0;
        for (; i + 4 <= inDim; i += 4)
        {
            float* w0 = w + ((long)i * outDim);
            float* w1 = w0 + outDim;
            float* w2 = w1 + outDim;
            float* w3 = w2 + outDim;
            int c = c0;
            for (; c < wide; c += 16)
            {
                Vector512<float> v0 = Avx512F.LoadVector512(w0 + c);
                Vector512<float> v1 = Avx512F.LoadVector512(w1 + c);
                Vector512<float> v2 = Avx512F.LoadVector512(w2 + c);
                Vector512<float> v3 = Avx512F.LoadVector512(w3 + c);
                for (int m = 0; m < rows; m++)
                {
                    float* xm = x + ((long)m * inDim) + i;
                    float* ym = y + ((long)m * outDim) + c;
                    Vector512<float> acc = Avx512F.LoadVector512(ym);
                    acc = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(xm[0]), acc);
                    acc = Avx512F.FusedMultiplyAdd(v1, Vector512.Create(xm[1]), acc);
                    acc = Avx512F.FusedMultiplyAdd(v2, Vector512.Create(xm[2]), acc);
                    acc = Avx512F.FusedMultiplyAdd(v3, Vector512.Create(xm[3]), acc);
                    Avx512F.Store(ym, acc);
                }
            }

            for (; c < c1; c += 8)
            {
                // Four w vectors loaded once, applied to every row.
                Vector256<float> v0 = Avx.LoadVector256(w0 + c);
                Vector256<float> v1 = Avx.LoadVector256(w1 + c);
                Vector256<float> v2 = Avx.LoadVector256(w2 + c);
                Vector256<float> v3 = Avx.LoadVector256(w3 + c);
                for (int m = 0; m < rows; m++)
                {
                    float* xm = x + ((long)m * inDim) + i;
                    float* ym = y + ((long)m * outDim) + c;
                    Vector256<float> acc = Avx.LoadVector256(ym);
                    acc = Fma.MultiplyAdd(v0, Vector256.Create(xm[0]), acc);
                    acc = Fma.MultiplyAdd(v1, Vector256.Create(xm[1]), acc);
                    acc = Fma.MultiplyAdd(v2, Vector256.Create(xm[2]), acc);
                    acc = Fma.MultiplyAdd(v3, Vector256.Create(xm[3]), acc);
                    Avx.Store(ym, acc);
                }
            }
        }

        for (; i < inDim; i++)
        {
            float* wi = w + ((long)i * outDim);
            for (int m = 0; m < rows; m++)
            {
                float* ym = y + ((long)m * outDim);
                float xmi = x[((long)m * inDim) + i];
                int c = c0;
                if (c < wide)
                {
                    Vector512<float> xw = Vector512.Create(xmi);
                    for (; c < wide; c += 16)
                    {
                        Avx512F.Store(ym + c, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(wi + c), xw, Avx512F.LoadVector512(ym + c)));
                    }
                }

                Vector256<float> xi = Vector256.Create(xmi);
                for (; c < c1; c += 8)
                {
                    Avx.Store(ym + c, Fma.MultiplyAdd(Avx.LoadVector256(wi + c), xi, Avx.LoadVector256(ym + c)));
                }
            }
        }
    }

    public void Dispose()
    {
        foreach (Helper helper in _helpers)
        {
            helper.Dispose();
        }

        for (int i = 0; i < _packs.Length; i++)
        {
            if (_packs[i].Pointer is not null)
            {
                NativeMemory.AlignedFree(_packs[i].Pointer);
                _packs[i] = default;
            }
        }
    }

    // One helper thread. State: 0 idle, 1 work posted, 2 done, 3 stop. Sleeping: 1 while it may block on _wake;
    // whoever flips it back to 0 owns the wake-up (the poster releases, or the helper skips its wait).
    private sealed class Helper : IDisposable
    {
        private readonly GemvPool _pool;
        private readonly int _part;
        private readonly SemaphoreSlim _wake = new(0);
        private readonly Thread _thread;
        private int _state;
        private int _sleeping;

        public Helper(GemvPool pool, int part)
        {
            _pool = pool;
            _part = part;
            _thread = new Thread(Loop) { IsBackground = true, Name = $"gemv-{part}" };
            _thread.Start();
        }

        public void Post()
        {
            Interlocked.Exchange(ref _state, 1);
            if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1)
            {
                _wake.Release();
            }
        }

        public void WaitDone()
        {
            var spin = default(SpinWait);
            while (Volatile.Read(ref _state) != 2)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            Volatile.Write(ref _state, 0);
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _state, 3);
            if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1)
            {
                _wake.Release();
            }

            _thread.Join();
            _wake.Dispose();
        }

        private void Loop()
        {
            while (true)
            {
                int state = AwaitWork();
                if (state == 3)
                {
                    return;
                }

                _pool.Compute(in _pool._job, _part);
                Volatile.Write(ref _state, 2);
            }
        }

        private int AwaitWork()
        {
            while (true)
            {
                for (int i = 0; i < SpinIterations && !_pool._parked; i++)
                {
                    int state = Volatile.Read(ref _state);
                    if (state is 1 or 3)
                    {
                        return state;
                    }

                    // Now and then give the core to any other runnable thread (the server's I/O, another engine in
                    // the process): a pure spin would hold it for the whole wait while the thread that will post
                    // the next product may be the one waiting for a core. With nothing else runnable this returns
                    // at once.
                    if ((i & 63) == 63)
                    {
                        Thread.Yield();
                    }
                    else
                    {
                        Thread.SpinWait(8);
                    }
                }

                Interlocked.Exchange(ref _sleeping, 1);
                int now = Volatile.Read(ref _state);
                if (now is 1 or 3)
                {
                    if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1)
                    {
                        return now; // nobody saw us asleep
                    }

                    _wake.Wait(); // the poster saw us asleep and released: consume it
                    return now;
                }

                _wake.Wait();
            }
        }
    }
}

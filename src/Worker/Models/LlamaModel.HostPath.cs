using Inference.Worker.KvCache;
using static TorchSharp.torch;

namespace Inference.Worker.Models;

public sealed partial class LlamaModel
{
    // A rolled head, a gate row, then one score row per thread: grown to the longest context seen, reused every
    // step (pinned by `fixed`).
    private float[] _hostScratch = [];

    // The step's attention, split by (token, query head) over the product threads; made once, reused every layer.
    private AttentionWork? _attention;

    // Key rows read (over all query heads) from which a layer's attention is split over the threads: ~0.1 ms of work
    // at head_dim 64; below it (a few sequences at short contexts) the hand-off costs about what it saves.
    internal const long AttentionSplitKeyReads = 4096;

    // Helper threads for the small-batch products, started on the first host-path step (CPU models only).
    private GemvPool? _gemv;

    /// <summary>
    /// Whether steps on a CPU float32 model run the host-fused path (<see cref="HostKernels"/>: the four products
    /// per layer on the host's vector units over every core (<see cref="GemvPool"/>), everything else fused on the host,
    /// K/V read in place): every decode-only step, and mixed or prefill steps
    /// whose prefill attention is small (<see cref="HostMaxPrefillAttentionPairs"/>). On by default; off, every
    /// step takes the reference path of libtorch ops, which long prefills always take.
    /// A pipeline split whose stages are all CPU slots runs here too: the host path reads each layer's weights and
    /// K/V through their stage's own tensors, and its hidden state is one host buffer, so there is nothing to hand
    /// from stage to stage. A split with any stage off the CPU always takes the libtorch path.
    /// </summary>
    public bool UseHostKernels { get; set; } = true;

    /// <summary>
    /// Prefill query-key pairs up to which a step with prefill chunks still runs on the host path. Its attention runs
    /// on one thread, token by token (a 180-token prompt from scratch is ~16k pairs, about 2 ms here); the reference
    /// path pads every sequence's queries to the longest chunk, so a step mixing decodes with one short prompt
    /// spent most of its time on padding there.
    /// </summary>
    internal const long HostMaxPrefillAttentionPairs = 16384;

    // libtorch's intra-op threads (OpenMP) spin for a while after each parallel op; in a step whose products run on
    // the GemvPool helpers they would take the helpers' cores (the sampler's ops after the forward are parallel
    // from two rows on), which measured 3x slower steps. Such steps, and their sampling, run libtorch on the
    // calling thread only; the next libtorch-path step (prefill, larger batches) gets its threads back and parks the
    // helpers. Between host steps the helpers keep spinning: waking a sleeping one costs a VM's idle-core wake-up
    // per step, which measured as slow as the whole step at batch 1.
    // The thread count is process-wide: it is read once, before any model lowers it, so every model restores the same.
    private static readonly Lazy<int> TorchThreads = new(get_num_threads);

    private static void LowerTorchThreads()
    {
        if (TorchThreads.Value > 1 && get_num_threads() != 1)
        {
            set_num_threads(1);
        }
    }

    private void RestoreTorchThreads()
    {
        // A libtorch-path step: the product helpers sleep now rather than spin beside libtorch's threads.
        _gemv?.Park();
        if (TorchThreads.Value > 1 && get_num_threads() != TorchThreads.Value)
        {
            set_num_threads(TorchThreads.Value);
        }
    }

    /// <summary>Helper threads the host products split over (default: one per core beyond the caller's, up to 7).</summary>
    internal int HostHelperThreads
    {
        get => _hostHelpers;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _hostHelpers = value;
            _gemv?.Dispose();
            _gemv = null;
        }
    }

    private int _hostHelpers = Math.Clamp(Environment.ProcessorCount - 1, 0, 7);

    private bool TakesHostPath(ForwardBatch batch) =>
        UseHostKernels && !batch.AllLogits
        && (batch.MaxQueryLength == 1 || batch.PrefillAttentionPairs <= HostMaxPrefillAttentionPairs)
        && _allOnCpu && Dtype == ScalarType.Float32
        && GemvPool.IsSupported && _headDim % 8 == 0; // the host kernels' vector requirements

    private unsafe Tensor ForwardHost(ForwardBatch batch, PagedKvCache cache)
    {
        // One row per new token (a decode contributes one, a prefill chunk its length), sequence by sequence.
        int b = batch.NumTokens;
        int sequences = batch.NumSequences;
        int hidden = Config.HiddenSize;
        int nh = _numHeads;
        int nkv = _numKvHeads;
        int d = _headDim;
        int group = nh / nkv;
        int qkvDim = (nh + (2 * nkv)) * d;
        int blockSize = cache.BlockSize;
        int vocab = Config.VocabSize;
        float scale = 1f / MathF.Sqrt(d);
        int? window = Config.SlidingWindow;
        int threads = 1 + HostHelperThreads;
        int scratchLength = d + _intermediate + (threads * batch.MaxKvLength);
        if (_hostScratch.Length < scratchLength)
        {
            _hostScratch = new float[Math.Max(scratchLength, _hostScratch.Length * 2)];
        }

        // Products on the host over every core (GemvPool) when every output width is a multiple of 8; otherwise
        // libtorch's GEMM (which runs on one core at these sizes).
        bool hostProducts = qkvDim % 8 == 0 && hidden % 8 == 0 && (2 * _intermediate) % 8 == 0 && vocab % 8 == 0;
        if (hostProducts)
        {
            LowerTorchThreads();
            _gemv ??= new GemvPool(HostHelperThreads);
        }
        else
        {
            RestoreTorchThreads();
        }

        using var outer = NewDisposeScope();
        Tensor x = empty([b, hidden], ScalarType.Float32);
        Tensor qkv = empty([b, qkvDim], ScalarType.Float32);
        Tensor gateUp = empty([b, 2L * _intermediate], ScalarType.Float32);
        float* px = HostKernels.Data(x);
        float* pqkv = HostKernels.Data(qkv);
        float* pgu = HostKernels.Data(gateUp);

        // y (+)= input @ wT (+ bias), rows [0, rows) of each.
        void Product(Tensor input, float* pin, int rows, Tensor wT, Tensor? bias, Tensor output, float* pout, bool accumulate)
        {
            if (rows == 0)
            {
                return; // a step of prompt chunks that all need no logits
            }

            if (hostProducts)
            {
                _gemv!.Run(pin, rows, (int)wT.size(0), HostKernels.Data(wT), (int)wT.size(1), bias is null ? null : HostKernels.Data(bias), pout, accumulate);
                return;
            }

            using var step = NewDisposeScope();
            Tensor rowsIn = input.narrow(0, 0, rows);
            Tensor rowsOut = output.narrow(0, 0, rows);
            if (accumulate)
            {
                rowsOut.add_(rowsIn.mm(wT));
            }
            else
            {
                rowsOut.copy_(Linear(rowsIn, wT, bias));
            }
        }

        Tensor h = empty([b, hidden], ScalarType.Float32);
        Tensor o = empty([b, (long)nh * d], ScalarType.Float32);
        Tensor act = empty([b, _intermediate], ScalarType.Float32);
        float* ph = HostKernels.Data(h);
        float* po = HostKernels.Data(o);
        float* pact = HostKernels.Data(act);
        fixed (float* scratch = _hostScratch)
        {
            float* rolled = scratch;
            float* gateScratch = rolled + d;
            AttentionWork attention = _attention ??= new AttentionWork();
            attention.Begin(batch, pqkv, po, qkvDim, nh, nkv, d, blockSize, scale, window, gateScratch + _intermediate, batch.MaxKvLength);
            if (_embedTokens is null)
            {
                // Tied: row `token` of embed_tokens is column `token` of lm_head^T [hidden, vocab].
                float* lm = HostKernels.Data(_embedT!);
                for (int s = 0; s < b; s++)
                {
                    int token = batch.TokenAt(s);
                    for (int i = 0; i < hidden; i++)
                    {
                        px[((long)s * hidden) + i] = lm[((long)i * vocab) + token];
                    }
                }
            }
            else
            {
                float* embed = HostKernels.Data(_embedTokens);
                for (int s = 0; s < b; s++)
                {
                    new ReadOnlySpan<float>(embed + ((long)batch.TokenAt(s) * hidden), hidden).CopyTo(new Span<float>(px + ((long)s * hidden), hidden));
                }
            }

            for (int st = 0; st < _stages.Length; st++)
            {
                float* cos = HostKernels.Data(_ropes[st].Cos);
                float* sin = HostKernels.Data(_ropes[st].SinSigned);
                for (int layer = _stages[st].FirstLayer; layer < _stages[st].EndLayer; layer++)
                {
                    DecoderLayer w = _layers[layer];
                    HostKernels.RmsNorm(px, HostKernels.Data(w.InputLayernorm), ph, b, hidden, _eps);
                    Product(h, ph, b, w.QkvProj, w.QkvBias, qkv, pqkv, accumulate: false);
                    float* keys = HostKernels.Data(cache.Keys(layer));
                    float* values = HostKernels.Data(cache.Values(layer));
                    for (int s = 0; s < sequences; s++)
                    {
                        int first = batch.QueryStartOf(s);
                        int length = batch.QueryLengthOf(s);
                        int context = batch.ContextLengthOf(s);
                        IReadOnlyList<int> table = batch.BlockTableOf(s);

                        // K/V go into the cache first, so each query of a chunk reads the ones before it in place.
                        for (int i = 0; i < length; i++)
                        {
                            int pos = context + i;
                            float* row = pqkv + ((long)(first + i) * qkvDim);
                            for (int head = 0; head < nh + nkv; head++)
                            {
                                HostKernels.Rope(row + (head * d), cos + ((long)pos * d), sin + ((long)pos * d), d, rolled);
                            }

                            long slot = ((long)table[pos / blockSize] * blockSize) + (pos % blockSize);
                            new ReadOnlySpan<float>(row + (nh * d), nkv * d).CopyTo(new Span<float>(keys + (slot * nkv * d), nkv * d));
                            new ReadOnlySpan<float>(row + ((nh + nkv) * d), nkv * d).CopyTo(new Span<float>(values + (slot * nkv * d), nkv * d));
                        }
                    }

                    // Every (token, query head) attends on its own: split over the product threads when there is enough of it.
                    attention.Keys = keys;
                    attention.Values = values;
                    if (_gemv is { } pool && attention.KeyReads >= AttentionSplitKeyReads)
                    {
                        pool.For(b * nh, attention.Body);
                    }
                    else
                    {
                        attention.Body(0, 0, b * nh);
                    }

                    Product(o, po, b, w.OProj, null, x, px, accumulate: true);
                    HostKernels.RmsNorm(px, HostKernels.Data(w.PostAttentionLayernorm), ph, b, hidden, _eps);
                    Product(h, ph, b, w.GateUpProj, null, gateUp, pgu, accumulate: false);
                    HostKernels.SiluMul(pgu, pact, b, _intermediate, gateScratch);
                    Product(act, pact, b, w.DownProj, null, x, px, accumulate: true);
                }
            }

            // Final norm only for the rows that get logits, packed at the top of h.
            IReadOnlyList<int> rows = batch.LogitRows;
            float* norm = HostKernels.Data(_norm);
            for (int r = 0; r < rows.Count; r++)
            {
                HostKernels.RmsNorm(px + ((long)rows[r] * hidden), norm, ph + ((long)r * hidden), 1, hidden, _eps);
            }

            Tensor logits = empty([rows.Count, vocab], ScalarType.Float32);
            Product(h, ph, rows.Count, _lmHeadT, null, logits, HostKernels.Data(logits), accumulate: false);
            return logits.MoveToOuterDisposeScope();
        }
    }

    // Attention of one host step: item = token row * heads + query head; each thread has its own score row.
    private sealed unsafe class AttentionWork
    {
        private ForwardBatch _batch = null!;
        private int[] _rowSequence = [];
        private float* _qkv;
        private float* _out;
        private float* _scores;
        private int _scoresStride;
        private int _qkvDim;
        private int _heads;
        private int _kvHeads;
        private int _d;
        private int _blockSize;
        private float _scale;
        private int? _window;

        public AttentionWork() => Body = Run;

        public Action<int, int, int> Body { get; }

        public float* Keys { get; set; }

        public float* Values { get; set; }

        /// <summary>Key rows the step's attention reads per layer, over every query head.</summary>
        public long KeyReads { get; private set; }

        public void Begin(ForwardBatch batch, float* qkv, float* output, int qkvDim, int heads, int kvHeads, int d, int blockSize, float scale, int? window, float* scores, int scoresStride)
        {
            _batch = batch;
            _qkv = qkv;
            _out = output;
            _qkvDim = qkvDim;
            _heads = heads;
            _kvHeads = kvHeads;
            _d = d;
            _blockSize = blockSize;
            _scale = scale;
            _window = window;
            _scores = scores;
            _scoresStride = scoresStride;
            if (_rowSequence.Length < batch.NumTokens)
            {
                _rowSequence = new int[Math.Max(batch.NumTokens, _rowSequence.Length * 2)];
            }

            long keyReads = 0;
            for (int s = 0; s < batch.NumSequences; s++)
            {
                int first = batch.QueryStartOf(s);
                int length = batch.QueryLengthOf(s);
                _rowSequence.AsSpan(first, length).Fill(s);
                keyReads += ((long)length * batch.ContextLengthOf(s)) + ((long)length * (length + 1) / 2);
            }

            KeyReads = keyReads * heads;
        }

        private void Run(int part, int start, int end)
        {
            float* scores = _scores + ((long)part * _scoresStride);
            int group = _heads / _kvHeads;
            for (int item = start; item < end; item++)
            {
                int r = item / _heads;
                int hq = item % _heads;
                int s = _rowSequence[r];

                // Key j is visible to the query at `pos` iff j <= pos (and j > pos - window).
                int pos = _batch.ContextLengthOf(s) + (r - _batch.QueryStartOf(s));
                int first = _window is int w ? Math.Max(0, pos - w + 1) : 0;
                HostKernels.Attend(
                    _qkv + ((long)r * _qkvDim) + (hq * _d), Keys, Values, _batch.BlockTableOf(s), _blockSize, first, pos + 1,
                    _kvHeads, hq / group, _d, _scale, scores, _out + ((long)r * _heads * _d) + (hq * _d));
            }
        }
    }
}

using Inference.Worker.KvCache;
using static TorchSharp.torch;

namespace Inference.Worker.Models;

public sealed partial class LlamaModel
{
    // Scores, a rolled head and a gate row: grown to the longest context seen, reused every step (pinned by `fixed`).
    private float[] _hostScratch = [];

    /// <summary>
    /// Whether decode-only steps on a CPU float32 model run the host-fused path (<see cref="HostKernels"/>: four
    /// libtorch GEMMs per layer, everything else fused on the host, K/V read in place). On by default; off, every
    /// step takes the reference path of libtorch ops, which prefill always takes.
    /// </summary>
    public bool UseHostKernels { get; set; } = true;

    private bool TakesHostDecode(ForwardBatch batch) =>
        UseHostKernels && batch.MaxQueryLength == 1 && !batch.AllLogits
        && Device.type == TorchSharp.DeviceType.CPU && Dtype == ScalarType.Float32;

    private unsafe Tensor ForwardHostDecode(ForwardBatch batch, PagedKvCache cache)
    {
        int b = batch.NumSequences;
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
        int scratchLength = batch.MaxKvLength + d + _intermediate;
        if (_hostScratch.Length < scratchLength)
        {
            _hostScratch = new float[Math.Max(scratchLength, _hostScratch.Length * 2)];
        }

        using var outer = NewDisposeScope();
        Tensor x = empty([b, hidden], ScalarType.Float32);
        Tensor h = empty([b, hidden], ScalarType.Float32);
        Tensor o = empty([b, (long)nh * d], ScalarType.Float32);
        Tensor act = empty([b, _intermediate], ScalarType.Float32);
        float* ph = HostKernels.Data(h);
        float* po = HostKernels.Data(o);
        float* pact = HostKernels.Data(act);
        float* cos = HostKernels.Data(_rope.Cos);
        float* sin = HostKernels.Data(_rope.SinSigned);
        fixed (float* scratch = _hostScratch)
        {
            float* scores = scratch;
            float* rolled = scratch + batch.MaxKvLength;
            float* gateScratch = rolled + d;
            float* px = HostKernels.Data(x);
            if (_embedTokens is null)
            {
                // Tied: row `token` of embed_tokens is column `token` of lm_head^T [hidden, vocab].
                float* lm = HostKernels.Data(_lmHeadT);
                for (int s = 0; s < b; s++)
                {
                    int token = batch.FirstTokenOf(s);
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
                    new ReadOnlySpan<float>(embed + ((long)batch.FirstTokenOf(s) * hidden), hidden).CopyTo(new Span<float>(px + ((long)s * hidden), hidden));
                }
            }

            for (int layer = 0; layer < _layers.Length; layer++)
            {
                DecoderLayer w = _layers[layer];
                HostKernels.RmsNorm(px, HostKernels.Data(w.InputLayernorm), ph, b, hidden, _eps);
                Tensor qkv = Linear(h, w.QkvProj, w.QkvBias);
                float* pqkv = HostKernels.Data(qkv);
                float* keys = HostKernels.Data(cache.Keys(layer));
                float* values = HostKernels.Data(cache.Values(layer));
                for (int s = 0; s < b; s++)
                {
                    int pos = batch.ContextLengthOf(s);
                    IReadOnlyList<int> table = batch.BlockTableOf(s);
                    float* row = pqkv + ((long)s * qkvDim);
                    for (int head = 0; head < nh + nkv; head++)
                    {
                        HostKernels.Rope(row + (head * d), cos + ((long)pos * d), sin + ((long)pos * d), d, rolled);
                    }

                    long slot = ((long)table[pos / blockSize] * blockSize) + (pos % blockSize);
                    new ReadOnlySpan<float>(row + (nh * d), nkv * d).CopyTo(new Span<float>(keys + (slot * nkv * d), nkv * d));
                    new ReadOnlySpan<float>(row + ((nh + nkv) * d), nkv * d).CopyTo(new Span<float>(values + (slot * nkv * d), nkv * d));

                    // Key j is visible to the query at `pos` iff j <= pos (and j > pos - window).
                    int start = window is int wnd ? Math.Max(0, pos - wnd + 1) : 0;
                    for (int hq = 0; hq < nh; hq++)
                    {
                        HostKernels.Attend(
                            row + (hq * d), keys, values, table, blockSize, start, pos + 1, nkv, hq / group, d, scale, scores,
                            po + ((long)s * nh * d) + (hq * d));
                    }
                }

                x = addmm(x, o, w.OProj, 1, 1);
                px = HostKernels.Data(x);
                HostKernels.RmsNorm(px, HostKernels.Data(w.PostAttentionLayernorm), ph, b, hidden, _eps);
                Tensor gateUp = h.mm(w.GateUpProj);
                HostKernels.SiluMul(HostKernels.Data(gateUp), pact, b, _intermediate, gateScratch);
                x = addmm(x, act, w.DownProj, 1, 1);
                px = HostKernels.Data(x);
            }

            // Final norm only for the rows that get logits, packed at the top of h.
            IReadOnlyList<int> rows = batch.LogitRows;
            float* norm = HostKernels.Data(_norm);
            for (int r = 0; r < rows.Count; r++)
            {
                HostKernels.RmsNorm(px + ((long)rows[r] * hidden), norm, ph + ((long)r * hidden), 1, hidden, _eps);
            }

            Tensor logits = h.narrow(0, 0, rows.Count).mm(_lmHeadT);
            return logits.MoveToOuterDisposeScope();
        }
    }
}

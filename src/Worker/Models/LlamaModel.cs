using Inference.Worker.KvCache;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Worker.Models;

/// <summary>
/// Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) running one batched
/// forward over a paged KV cache. Math mirrors Hugging Face's modeling_llama: RMSNorm in float32,
/// rotate_half RoPE, grouped-query attention, SiLU-gated MLP. Owns its weights (Dispose frees them).
/// Under a pipeline split (<see cref="Stages"/>) the embedding lives on the first stage's device, each stage's
/// layers on its own, the final norm and lm_head on the last; a step hands the hidden state from stage to stage.
/// </summary>
public sealed partial class LlamaModel : IDisposable
{
    private readonly DecoderLayer[] _layers;
    // Null when the embedding is tied to lm_head: rows are then gathered from the columns of _embedT.
    private readonly Tensor? _embedTokens;

    // Tied embeddings as [hidden, vocab] on the first stage: _lmHeadT itself when unsplit, its own copy when split.
    private readonly Tensor? _embedT;
    private readonly Tensor _norm;

    // lm_head stored transposed, [hidden, vocab]: at decode shapes (a few rows) libtorch's GEMM streams
    // a [in, out] weight about 2.5x faster than F.linear's [out, in] (batch 1 on 2 cores: 1.6 ms vs
    // 4.2 ms for 32000 x 384), and lm_head is the largest weight of a small model.
    private readonly Tensor _lmHeadT;

    // Stages in order (one when unsplit), each with its own cos/sin tables on its device.
    private readonly PipelineStage[] _stages;
    private readonly RotaryEmbedding[] _ropes;
    private readonly bool _allOnCpu;
    private readonly int _numHeads;
    private readonly int _numKvHeads;
    private readonly int _headDim;
    private readonly int _intermediate;
    private readonly double _eps;

    // Host staging for the packed step indices, reused across steps so a step allocates no managed
    // array; grows on demand. Forward is single-threaded per model (it already mutates the cache).
    private Tensor? _indexStaging;

    private LlamaModel(
        ModelConfig config, DecoderLayer[] layers, Tensor embedTokens, Tensor norm, Tensor lmHead,
        RotaryEmbedding[] ropes, ScalarType dtype, PipelineStage[] stages)
    {
        Config = config;
        // Projections are kept transposed ([in, out]) for the same reason as lm_head (gate_up at batch 1:
        // 135 us vs 250 us per layer); the math is the same matrix product.
        _layers = new DecoderLayer[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            DecoderLayer l = layers[i];
            _layers[i] = new DecoderLayer
            {
                InputLayernorm = l.InputLayernorm,
                QkvProj = Transpose(l.QkvProj),
                QkvBias = l.QkvBias,
                OProj = Transpose(l.OProj),
                PostAttentionLayernorm = l.PostAttentionLayernorm,
                GateUpProj = Transpose(l.GateUpProj),
                DownProj = Transpose(l.DownProj),
            };
        }

        bool tied = ReferenceEquals(lmHead, embedTokens);
        _lmHeadT = Transpose(lmHead);
        if (tied && stages.Length > 1)
        {
            // Each end of a tied split holds its own copy, both [hidden, vocab], so the first stage gathers its
            // embedding exactly as the unsplit model does (a transposed, non-contiguous gather: the same layout
            // downstream, hence the same reduction order and bit-identical logits).
            _embedT = _lmHeadT;
            _lmHeadT = HandOff(_lmHeadT, stages[^1].Device).DetachFromDisposeScope();
        }
        else
        {
            _embedT = tied ? _lmHeadT : null;
        }

        _embedTokens = tied ? null : embedTokens;
        _norm = norm;
        _ropes = ropes;
        _stages = stages;
        _allOnCpu = Array.TrueForAll(stages, st => st.Device.type == DeviceType.CPU);
        Dtype = dtype;
        Device = stages[0].Device;
        _numHeads = config.NumAttentionHeads;
        _numKvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _intermediate = config.IntermediateSize;
        _eps = config.RmsNormEps;
    }

    public ModelConfig Config { get; }

    public ScalarType Dtype { get; }

    /// <summary>The first stage's device: where the step's tokens enter (the only device when unsplit).</summary>
    public Device Device { get; }

    /// <summary>The last stage's device: where <see cref="Forward"/> returns the logits.</summary>
    public Device OutputDevice => _stages[^1].Device;

    /// <summary>The pipeline stages, in order; one holding every layer when the model is not split.</summary>
    public IReadOnlyList<PipelineStage> Stages => _stages;

    // Takes ownership of w [out, in] and returns its contiguous transpose [in, out].
    private static Tensor Transpose(Tensor w)
    {
        Tensor t = w.t().contiguous().DetachFromDisposeScope();
        w.Dispose();
        return t;
    }

    // x [rows, in] times wT [in, out] (+ bias): F.linear with a pre-transposed weight.
    private static Tensor Linear(Tensor x, Tensor wT, Tensor? bias = null) =>
        bias is null ? x.mm(wT) : addmm(bias, x, wT, 1, 1);

    /// <summary>Longest sequence (prompt + output) the position tables cover.</summary>
    public int MaxModelLength => _ropes[0].MaxPositions;

    /// <summary>Bytes of weights read per forward step (the memory-bandwidth floor of a decode step).</summary>
    public long WeightBytes { get; private set; }

    /// <summary>
    /// Runs one step: writes the new tokens' K/V into <paramref name="cache"/> and returns float32
    /// logits [rows, vocab] for the last new token of each sequence added with computeLogits, in the
    /// order added, or [tokens, vocab] when
    /// <see cref="ForwardBatch.AllLogits"/> is set. The result belongs to the caller's dispose scope.
    /// </summary>
    public Tensor Forward(ForwardBatch batch, PagedKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(cache);
        if (batch.BlockSize != cache.BlockSize)
        {
            throw new ArgumentException($"Batch block size {batch.BlockSize} differs from the cache's {cache.BlockSize}.", nameof(batch));
        }

        if (batch.MaxKvLength > MaxModelLength)
        {
            throw new ArgumentException($"Sequence length {batch.MaxKvLength} exceeds the model's {MaxModelLength} positions.", nameof(batch));
        }

        if (!SameStages(cache.Stages))
        {
            throw new ArgumentException(
                $"The cache's pipeline stages ({PipelineStage.Describe(cache.Stages)}) differ from the model's ({PipelineStage.Describe(_stages)}).", nameof(cache));
        }

        if (TakesHostPath(batch))
        {
            return ForwardHost(batch, cache);
        }

        RestoreTorchThreads();

        int t = batch.NumTokens;
        int b = batch.NumSequences;
        int qmax = batch.MaxQueryLength;
        int lmax = batch.MaxKvLength;
        int group = _numHeads / _numKvHeads;
        int d = _headDim;

        using var outer = NewDisposeScope();
        Tensor host = StageIndices(batch);
        Tensor x = null!;
        Tensor index = host;
        for (int st = 0; st < _stages.Length; st++)
        {
            PipelineStage stage = _stages[st];
            Device device = stage.Device;

            // Each stage gets the step's indices straight from the host staging (one host-to-device copy per stage,
            // no chain of device-to-device copies); on CPU every stage reads the staging in place.
            index = device.type == DeviceType.CPU ? host : host.to(device);
            Tensor positions = index.narrow(0, batch.PositionsOffset, t);
            Tensor slots = index.narrow(0, batch.SlotsOffset, t);
            Tensor gather = index.narrow(0, batch.GatherOffset, (long)b * lmax);
            Tensor queryPositions = index.narrow(0, batch.QueryPositionsOffset, (long)b * qmax).view(b, qmax, 1);
            Tensor padIndex = index.narrow(0, batch.PadIndexOffset, t);

            Tensor cos = _ropes[st].Cos.index_select(0, positions).unsqueeze(1);
            Tensor sin = _ropes[st].SinSigned.index_select(0, positions).unsqueeze(1);

            // Causal mask over the padded key axis: key j is visible to a query at position p iff j <= p
            // (and within the sliding window). Padded keys sit at j >= kv length > p, so they are hidden;
            // padded queries sit at p = 0 and see key 0 only (never a fully masked row, which would be NaN).
            // A decode step whose sequences all attend to the full padded length (always so at batch 1) sees
            // every key: no mask, which saves its ops and lets SDPA take its unmasked kernel (~25% faster).
            bool decodeOnly = qmax == 1;
            bool windowed = Config.SlidingWindow is int w0 && lmax > w0;
            Tensor? mask = null;
            if (!decodeOnly || windowed || batch.MinKvLength != lmax)
            {
                Tensor keyPositions = arange(0, lmax, 1, ScalarType.Int64, device).view(1, 1, lmax);
                mask = keyPositions <= queryPositions;
                if (Config.SlidingWindow is int window && windowed)
                {
                    mask = mask.logical_and(keyPositions > queryPositions - window);
                }

                mask = decodeOnly
                    ? mask.view(b, 1, 1, lmax)
                    : mask.view(b, 1, qmax, 1, lmax).expand(b, 1, qmax, group, lmax).reshape(b, 1, (long)qmax * group, lmax);
            }

            if (st == 0)
            {
                Tensor tokens = index.narrow(0, batch.TokensOffset, t);
                x = _embedTokens is null
                    ? _embedT!.index_select(1, tokens).t()
                    : _embedTokens.index_select(0, tokens);
            }
            else
            {
                x = HandOff(x, device);
            }

            for (int layer = stage.FirstLayer; layer < stage.EndLayer; layer++)
            {
                using var layerScope = NewDisposeScope();
                DecoderLayer w = _layers[layer];

                Tensor h = RmsNorm(x, w.InputLayernorm);
                Tensor qkv = Linear(h, w.QkvProj, w.QkvBias);
                Tensor qk = qkv.narrow(1, 0, (long)(_numHeads + _numKvHeads) * d).view(t, _numHeads + _numKvHeads, d);
                qk = RotaryEmbedding.Apply(qk, cos, sin, d / 2);
                Tensor q = qk.narrow(1, 0, _numHeads);
                Tensor k = qk.narrow(1, _numHeads, _numKvHeads);
                Tensor v = qkv.narrow(1, (long)(_numHeads + _numKvHeads) * d, (long)_numKvHeads * d).view(t, _numKvHeads, d);

                Tensor keyCache = cache.Keys(layer);
                Tensor valueCache = cache.Values(layer);
                keyCache.index_copy_(0, slots, k);
                valueCache.index_copy_(0, slots, v);

                // K/V stay at kv_heads; queries are grouped onto them ([B, kv_heads, group * Q, D]) so GQA
                // never copies the cache per query head.
                Tensor keys = keyCache.index_select(0, gather).view(b, lmax, _numKvHeads, d).permute(0, 2, 1, 3);
                Tensor values = valueCache.index_select(0, gather).view(b, lmax, _numKvHeads, d).permute(0, 2, 1, 3);

                Tensor queries;
                if (decodeOnly)
                {
                    queries = q.reshape(b, _numKvHeads, group, d);
                }
                else
                {
                    Tensor padded = zeros([(long)b * qmax, _numHeads, d], q.dtype, device).index_copy_(0, padIndex, q);
                    queries = padded.view(b, qmax, _numKvHeads, group, d).permute(0, 2, 1, 3, 4).reshape(b, _numKvHeads, (long)qmax * group, d);
                }

                Tensor attn = F.scaled_dot_product_attention(queries, keys, values, mask);
                Tensor o = decodeOnly
                    ? attn.reshape(t, (long)_numHeads * d)
                    : attn.view(b, _numKvHeads, qmax, group, d).permute(0, 2, 1, 3, 4).reshape((long)b * qmax, (long)_numHeads * d).index_select(0, padIndex);

                x = x + Linear(o, w.OProj);

                h = RmsNorm(x, w.PostAttentionLayernorm);
                Tensor gateUp = Linear(h, w.GateUpProj);
                Tensor gate = gateUp.narrow(1, 0, _intermediate);
                Tensor up = gateUp.narrow(1, _intermediate, _intermediate);
                x = x + Linear(F.silu(gate) * up, w.DownProj);
                x.MoveToOuterDisposeScope();
            }
        }

        if (!batch.AllLogits)
        {
            // The last stage's indices: the rows that get logits.
            x = x.index_select(0, index.narrow(0, batch.LogitRowsOffset, batch.NumLogitRows));
        }

        Tensor logits = Linear(RmsNorm(x, _norm), _lmHeadT).to(ScalarType.Float32);
        return logits.MoveToOuterDisposeScope();
    }

    private Tensor StageIndices(ForwardBatch batch)
    {
        long[] packed = batch.Pack();
        int length = batch.PackedLength;
        if (_indexStaging is null || _indexStaging.shape[0] < length)
        {
            long capacity = Math.Max(length, _indexStaging is null ? 256 : _indexStaging.shape[0] * 2);
            _indexStaging?.Dispose();
            _indexStaging = empty(capacity, ScalarType.Int64, CPU).DetachFromDisposeScope();
        }

        Tensor host = _indexStaging.narrow(0, 0, length);
        using (var accessor = host.data<long>())
        {
            accessor.CopyFrom(packed.AsSpan(0, length));
        }

        return host;
    }

    // The hidden state crossing into the next stage: a tensor of the receiving stage's device. Between two slots of
    // one device (cpu,cpu) it is still a copy, so such a split runs the same data flow, and pays the same kind of
    // cost, as one across two GPUs.
    private static Tensor HandOff(Tensor x, Device device) =>
        x.device_type == device.type && (device.type == DeviceType.CPU || x.device_index == device.index)
            ? x.clone()
            : x.to(device);

    private bool SameStages(IReadOnlyList<PipelineStage> other)
    {
        if (other.Count != _stages.Length)
        {
            return false;
        }

        for (int i = 0; i < _stages.Length; i++)
        {
            PipelineStage a = _stages[i];
            PipelineStage c = other[i];
            if (a.FirstLayer != c.FirstLayer || a.NumLayers != c.NumLayers || a.Device.type != c.Device.type
                || (a.Device.type != DeviceType.CPU && a.Device.index != c.Device.index))
            {
                return false;
            }
        }

        return true;
    }

    // HF LlamaRMSNorm: variance in float32, normalise, cast back, then scale by the weight.
    private Tensor RmsNorm(Tensor x, Tensor weight)
    {
        if (x.dtype == ScalarType.Float32)
        {
            Tensor variance = x.square().mean([-1L], keepdim: true);
            return x * (variance + _eps).rsqrt() * weight;
        }

        Tensor xf = x.to(ScalarType.Float32);
        Tensor v = xf.square().mean([-1L], keepdim: true);
        return weight * (xf * (v + _eps).rsqrt()).to(x.dtype);
    }

    public void Dispose()
    {
        foreach (DecoderLayer layer in _layers)
        {
            layer.Dispose();
        }

        if (!ReferenceEquals(_embedT, _lmHeadT))
        {
            _embedT?.Dispose();
        }

        _lmHeadT.Dispose();
        _embedTokens?.Dispose();
        _indexStaging?.Dispose();
        _gemv?.Dispose();
        _norm.Dispose();
        foreach (RotaryEmbedding rope in _ropes)
        {
            rope.Dispose();
        }
    }
}

using Inference.Worker.KvCache;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Worker.Models;

/// <summary>
/// Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) running one batched
/// forward over a paged KV cache. Math mirrors Hugging Face's modeling_llama: RMSNorm in float32,
/// rotate_half RoPE, grouped-query attention, SiLU-gated MLP. Owns its weights (Dispose frees them).
/// </summary>
public sealed partial class LlamaModel : IDisposable
{
    private readonly DecoderLayer[] _layers;
    private readonly Tensor _embedTokens;
    private readonly Tensor _norm;
    private readonly Tensor _lmHead;
    private readonly RotaryEmbedding _rope;
    private readonly int _numHeads;
    private readonly int _numKvHeads;
    private readonly int _headDim;
    private readonly int _intermediate;
    private readonly double _eps;

    private LlamaModel(
        ModelConfig config, DecoderLayer[] layers, Tensor embedTokens, Tensor norm, Tensor lmHead,
        RotaryEmbedding rope, ScalarType dtype, Device device)
    {
        Config = config;
        _layers = layers;
        _embedTokens = embedTokens;
        _norm = norm;
        _lmHead = lmHead;
        _rope = rope;
        Dtype = dtype;
        Device = device;
        _numHeads = config.NumAttentionHeads;
        _numKvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _intermediate = config.IntermediateSize;
        _eps = config.RmsNormEps;
    }

    public ModelConfig Config { get; }

    public ScalarType Dtype { get; }

    public Device Device { get; }

    /// <summary>Longest sequence (prompt + output) the position tables cover.</summary>
    public int MaxModelLength => _rope.MaxPositions;

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

        int t = batch.NumTokens;
        int b = batch.NumSequences;
        int qmax = batch.MaxQueryLength;
        int lmax = batch.MaxKvLength;
        int group = _numHeads / _numKvHeads;
        int d = _headDim;

        using var outer = NewDisposeScope();
        long[] packed = batch.Pack();
        Tensor index = tensor(packed.AsSpan(0, batch.PackedLength).ToArray(), ScalarType.Int64, Device);
        Tensor tokens = index.narrow(0, batch.TokensOffset, t);
        Tensor positions = index.narrow(0, batch.PositionsOffset, t);
        Tensor slots = index.narrow(0, batch.SlotsOffset, t);
        Tensor gather = index.narrow(0, batch.GatherOffset, (long)b * lmax);
        Tensor queryPositions = index.narrow(0, batch.QueryPositionsOffset, (long)b * qmax).view(b, qmax, 1);
        Tensor padIndex = index.narrow(0, batch.PadIndexOffset, t);
        Tensor logitRows = index.narrow(0, batch.LogitRowsOffset, batch.AllLogits ? 0 : batch.NumLogitRows);

        Tensor cos = _rope.Cos.index_select(0, positions).unsqueeze(1);
        Tensor sin = _rope.SinSigned.index_select(0, positions).unsqueeze(1);

        // Causal mask over the padded key axis: key j is visible to a query at position p iff j <= p
        // (and within the sliding window). Padded keys sit at j >= kv length > p, so they are hidden;
        // padded queries sit at p = 0 and see key 0 only (never a fully masked row, which would be NaN).
        Tensor keyPositions = arange(0, lmax, 1, ScalarType.Int64, Device).view(1, 1, lmax);
        Tensor mask = keyPositions <= queryPositions;
        if (Config.SlidingWindow is int window && lmax > window)
        {
            mask = mask.logical_and(keyPositions > queryPositions - window);
        }

        bool decodeOnly = qmax == 1;
        mask = decodeOnly
            ? mask.view(b, 1, 1, lmax)
            : mask.view(b, 1, qmax, 1, lmax).expand(b, 1, qmax, group, lmax).reshape(b, 1, (long)qmax * group, lmax);

        Tensor x = _embedTokens.index_select(0, tokens);
        for (int layer = 0; layer < _layers.Length; layer++)
        {
            using var layerScope = NewDisposeScope();
            DecoderLayer w = _layers[layer];

            Tensor h = RmsNorm(x, w.InputLayernorm);
            Tensor qkv = F.linear(h, w.QkvProj, w.QkvBias);
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
                Tensor padded = zeros([(long)b * qmax, _numHeads, d], q.dtype, Device).index_copy_(0, padIndex, q);
                queries = padded.view(b, qmax, _numKvHeads, group, d).permute(0, 2, 1, 3, 4).reshape(b, _numKvHeads, (long)qmax * group, d);
            }

            Tensor attn = F.scaled_dot_product_attention(queries, keys, values, mask);
            Tensor o = decodeOnly
                ? attn.reshape(t, (long)_numHeads * d)
                : attn.view(b, _numKvHeads, qmax, group, d).permute(0, 2, 1, 3, 4).reshape((long)b * qmax, (long)_numHeads * d).index_select(0, padIndex);

            x = x + F.linear(o, w.OProj);

            h = RmsNorm(x, w.PostAttentionLayernorm);
            Tensor gateUp = F.linear(h, w.GateUpProj);
            Tensor gate = gateUp.narrow(1, 0, _intermediate);
            Tensor up = gateUp.narrow(1, _intermediate, _intermediate);
            x = x + F.linear(F.silu(gate) * up, w.DownProj);
            x.MoveToOuterDisposeScope();
        }

        if (!batch.AllLogits)
        {
            x = x.index_select(0, logitRows);
        }

        Tensor logits = F.linear(RmsNorm(x, _norm), _lmHead).to(ScalarType.Float32);
        return logits.MoveToOuterDisposeScope();
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

        if (!ReferenceEquals(_lmHead, _embedTokens))
        {
            _lmHead.Dispose();
        }

        _embedTokens.Dispose();
        _norm.Dispose();
        _rope.Dispose();
    }
}

using Inference.Worker.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Trainer;

/// <summary>
/// A trainable Llama (Hugging Face LlamaForCausalLM math) as a plain TorchSharp module: token embedding,
/// RMSNorm, grouped-query attention with rotate_half RoPE and a causal SDPA, SiLU-gated MLP, final norm,
/// and an lm_head tied to the embedding. Full-sequence forward over [batch, time] token ids, for training
/// and evaluation; serving uses <see cref="LlamaModel"/> over the same weights
/// (<see cref="ExportWeights"/> writes Hugging Face names).
/// </summary>
/// <remarks>
/// q/k/v and gate/up are kept fused (one matmul each) because a small model on 2 CPU cores is bound by
/// op count; <see cref="ExportWeights"/> splits them back into q_proj/k_proj/v_proj and gate_proj/up_proj.
/// </remarks>
public sealed class LlamaTrainingModel : nn.Module<Tensor, Tensor>
{
    private readonly ModelConfig _config;
    private readonly Parameter _embedTokens;
    private readonly Parameter _norm;
    private readonly ParameterList _inputLayernorm = new();
    private readonly ParameterList _qkvProj = new();
    private readonly ParameterList _oProj = new();
    private readonly ParameterList _postAttentionLayernorm = new();
    private readonly ParameterList _gateUpProj = new();
    private readonly ParameterList _downProj = new();
    private readonly Tensor _cos;
    private readonly Tensor _sinSigned;

    private LlamaTrainingModel(ModelConfig config, Func<string, long[], Tensor> init)
        : base(nameof(LlamaTrainingModel))
    {
        if (!config.TieWordEmbeddings || config.AttentionBias || config.RopeScaling is not null || config.SlidingWindow is not null)
        {
            throw new NotSupportedException("The training model supports tied embeddings, no attention bias, no rope_scaling and no sliding window.");
        }

        _config = config;
        long h = config.HiddenSize;
        long q = (long)config.NumAttentionHeads * config.HeadDim;
        long kv = (long)config.NumKeyValueHeads * config.HeadDim;
        long inter = config.IntermediateSize;
        _embedTokens = new Parameter(init("model.embed_tokens.weight", [config.VocabSize, h]));
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            _inputLayernorm.Add(new Parameter(init(p + "input_layernorm.weight", [h])));
            _qkvProj.Add(new Parameter(cat(
                [init(p + "self_attn.q_proj.weight", [q, h]), init(p + "self_attn.k_proj.weight", [kv, h]), init(p + "self_attn.v_proj.weight", [kv, h])], 0)));
            _oProj.Add(new Parameter(init(p + "self_attn.o_proj.weight", [h, q])));
            _postAttentionLayernorm.Add(new Parameter(init(p + "post_attention_layernorm.weight", [h])));
            _gateUpProj.Add(new Parameter(cat([init(p + "mlp.gate_proj.weight", [inter, h]), init(p + "mlp.up_proj.weight", [inter, h])], 0)));
            _downProj.Add(new Parameter(init(p + "mlp.down_proj.weight", [h, inter])));
        }

        _norm = new Parameter(init("model.norm.weight", [h]));

        // The runtime's own tables (float32, computed like Hugging Face), so both forwards rotate alike.
        using var rope = new RotaryEmbedding(config, config.MaxPositionEmbeddings, ScalarType.Float32, CPU);
        _cos = rope.Cos.clone().DetachFromDisposeScope();
        _sinSigned = rope.SinSigned.clone().DetachFromDisposeScope();
        RegisterComponents();
    }

    /// <summary>The architecture this module implements.</summary>
    public ModelConfig Config => _config;

    /// <summary>
    /// A freshly initialised model: weights ~ N(0, 0.02), residual output projections (o_proj, down_proj)
    /// scaled by 1/sqrt(2 * layers) as in GPT-2, norms at 1. Deterministic for a given <paramref name="seed"/>.
    /// </summary>
    public static LlamaTrainingModel Create(ModelConfig config, long seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var generator = new Generator((ulong)seed);
        double residualStd = 0.02 / Math.Sqrt(2.0 * config.NumHiddenLayers);
        return new LlamaTrainingModel(config, (name, shape) =>
            shape.Length == 1 ? ones(shape)
            : normal(0, name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal) ? residualStd : 0.02, shape, generator: generator));
    }

    /// <summary>Loads a model's weights (Hugging Face names) from <paramref name="source"/>, in float32 on the CPU.</summary>
    public static LlamaTrainingModel Load(ModelConfig config, IWeightSource source)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(source);
        return new LlamaTrainingModel(config, (name, shape) => source.Read(name, shape, ScalarType.Float32, CPU));
    }

    /// <summary>Logits [batch, time, vocab] (float32) for token ids [batch, time], each position seeing only itself and earlier ones.</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        long b = input.shape[0];
        long t = input.shape[1];
        if (t > _config.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"Sequence length {t} exceeds max_position_embeddings {_config.MaxPositionEmbeddings}.", nameof(input));
        }

        int heads = _config.NumAttentionHeads;
        int kvHeads = _config.NumKeyValueHeads;
        int group = heads / kvHeads;
        long d = _config.HeadDim;
        long inter = _config.IntermediateSize;
        Tensor cos = _cos.narrow(0, 0, t).view(1, t, 1, d);
        Tensor sin = _sinSigned.narrow(0, 0, t).view(1, t, 1, d);

        Tensor x = _embedTokens.index_select(0, input.reshape(-1)).view(b, t, -1);
        for (int i = 0; i < _config.NumHiddenLayers; i++)
        {
            Tensor h = RmsNorm(x, _inputLayernorm[i]);
            Tensor qkv = F.linear(h, _qkvProj[i]);
            Tensor qk = qkv.narrow(2, 0, (heads + kvHeads) * d).view(b, t, heads + kvHeads, d);
            qk = (qk * cos) + (qk.roll(d / 2, -1) * sin);
            Tensor q = qk.narrow(2, 0, heads).transpose(1, 2);
            Tensor k = qk.narrow(2, heads, kvHeads).transpose(1, 2);
            Tensor v = qkv.narrow(2, (heads + kvHeads) * d, kvHeads * d).view(b, t, kvHeads, d).transpose(1, 2);
            if (group > 1)
            {
                k = k.unsqueeze(2).expand(b, kvHeads, group, t, d).reshape(b, heads, t, d);
                v = v.unsqueeze(2).expand(b, kvHeads, group, t, d).reshape(b, heads, t, d);
            }

            Tensor attn = F.scaled_dot_product_attention(q, k, v, is_casual: true);
            x = x + F.linear(attn.transpose(1, 2).reshape(b, t, heads * d), _oProj[i]);

            h = RmsNorm(x, _postAttentionLayernorm[i]);
            Tensor gateUp = F.linear(h, _gateUpProj[i]);
            x = x + F.linear(F.silu(gateUp.narrow(2, 0, inter)) * gateUp.narrow(2, inter, inter), _downProj[i]);
        }

        return F.linear(RmsNorm(x, _norm), _embedTokens);
    }

    /// <summary>
    /// Every weight under its Hugging Face name and shape (in the order tests/TestSupport's RandomModelWriter.TensorShapes
    /// lists), as new detached float32 tensors the caller disposes.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> ExportWeights()
    {
        using var noGrad = no_grad();
        long q = (long)_config.NumAttentionHeads * _config.HeadDim;
        long kv = (long)_config.NumKeyValueHeads * _config.HeadDim;
        long inter = _config.IntermediateSize;
        var result = new List<(string, Tensor)> { ("model.embed_tokens.weight", _embedTokens.detach().clone()) };
        for (int i = 0; i < _config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            result.Add((p + "input_layernorm.weight", _inputLayernorm[i].detach().clone()));
            result.Add((p + "self_attn.q_proj.weight", _qkvProj[i].narrow(0, 0, q).detach().clone()));
            result.Add((p + "self_attn.k_proj.weight", _qkvProj[i].narrow(0, q, kv).detach().clone()));
            result.Add((p + "self_attn.v_proj.weight", _qkvProj[i].narrow(0, q + kv, kv).detach().clone()));
            result.Add((p + "self_attn.o_proj.weight", _oProj[i].detach().clone()));
            result.Add((p + "post_attention_layernorm.weight", _postAttentionLayernorm[i].detach().clone()));
            result.Add((p + "mlp.gate_proj.weight", _gateUpProj[i].narrow(0, 0, inter).detach().clone()));
            result.Add((p + "mlp.up_proj.weight", _gateUpProj[i].narrow(0, inter, inter).detach().clone()));
            result.Add((p + "mlp.down_proj.weight", _downProj[i].detach().clone()));
        }

        result.Add(("model.norm.weight", _norm.detach().clone()));
        return result;
    }

    /// <summary>Parameters that get weight decay (matrices) and those that do not (norm weights).</summary>
    public (IReadOnlyList<Parameter> Decay, IReadOnlyList<Parameter> NoDecay) ParameterGroups()
    {
        var decay = new List<Parameter> { _embedTokens };
        var noDecay = new List<Parameter> { _norm };
        for (int i = 0; i < _config.NumHiddenLayers; i++)
        {
            decay.AddRange([_qkvProj[i], _oProj[i], _gateUpProj[i], _downProj[i]]);
            noDecay.AddRange([_inputLayernorm[i], _postAttentionLayernorm[i]]);
        }

        return (decay, noDecay);
    }

    // HF LlamaRMSNorm in float32 (training runs in float32): x * rsqrt(mean(x^2) + eps) * weight.
    private Tensor RmsNorm(Tensor x, Tensor weight) =>
        x * (x.square().mean([-1L], keepdim: true) + _config.RmsNormEps).rsqrt() * weight;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cos.Dispose();
            _sinSigned.Dispose();
        }

        base.Dispose(disposing);
    }
}

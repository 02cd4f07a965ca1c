using static TorchSharp.torch;

namespace Inference.Worker.Models;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Builds the model from <paramref name="weights"/>, checking every tensor's name and shape against
    /// <paramref name="config"/>. <paramref name="maxModelLength"/> bounds the RoPE tables (defaults to
    /// max_position_embeddings). Progress, if given, receives the number of tensors read so far.
    /// </summary>
    public static LlamaModel Load(
        ModelConfig config, IWeightSource weights, ScalarType dtype, Device device, int? maxModelLength = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);

        long hidden = config.HiddenSize;
        long qDim = (long)config.NumAttentionHeads * config.HeadDim;
        long kvDim = (long)config.NumKeyValueHeads * config.HeadDim;
        long inter = config.IntermediateSize;
        long vocab = config.VocabSize;

        var built = new List<IDisposable>();
        try
        {
            Tensor Read(string name, params long[] shape)
            {
                // Weights outlive any scope the caller may have open: the model owns them.
                Tensor t = weights.Read(name, shape, dtype, device).DetachFromDisposeScope();
                built.Add(t);
                return t;
            }

            Tensor Fuse(params Tensor[] parts)
            {
                Tensor fused = cat(parts, 0).DetachFromDisposeScope();
                foreach (Tensor part in parts)
                {
                    // Tensor.Equals compares values, so removal must go by reference.
                    built.RemoveAll(t => ReferenceEquals(t, part));
                    part.Dispose();
                }

                built.Add(fused);
                return fused;
            }

            long weightBytes = 0;
            var layers = new DecoderLayer[config.NumHiddenLayers];
            for (int i = 0; i < layers.Length; i++)
            {
                string p = $"model.layers.{i}.";
                Tensor? bias = null;
                if (config.AttentionBias)
                {
                    bias = Fuse(
                        Read(p + "self_attn.q_proj.bias", qDim),
                        Read(p + "self_attn.k_proj.bias", kvDim),
                        Read(p + "self_attn.v_proj.bias", kvDim));
                }

                layers[i] = new DecoderLayer
                {
                    InputLayernorm = Read(p + "input_layernorm.weight", hidden),
                    QkvProj = Fuse(
                        Read(p + "self_attn.q_proj.weight", qDim, hidden),
                        Read(p + "self_attn.k_proj.weight", kvDim, hidden),
                        Read(p + "self_attn.v_proj.weight", kvDim, hidden)),
                    QkvBias = bias,
                    OProj = Read(p + "self_attn.o_proj.weight", hidden, qDim),
                    PostAttentionLayernorm = Read(p + "post_attention_layernorm.weight", hidden),
                    GateUpProj = Fuse(
                        Read(p + "mlp.gate_proj.weight", inter, hidden),
                        Read(p + "mlp.up_proj.weight", inter, hidden)),
                    DownProj = Read(p + "mlp.down_proj.weight", hidden, inter),
                };
                weightBytes += ((qDim + (2 * kvDim)) * hidden) + (qDim * hidden) + (3 * inter * hidden) + (2 * hidden);
            }

            Tensor embed = Read("model.embed_tokens.weight", vocab, hidden);
            Tensor norm = Read("model.norm.weight", hidden);

            // Tied checkpoints sometimes still ship lm_head.weight; prefer it when present, as HF does after tying.
            Tensor lmHead = !config.TieWordEmbeddings || weights.Contains("lm_head.weight")
                ? Read("lm_head.weight", vocab, hidden)
                : embed;
            weightBytes += (vocab * hidden) + hidden;

            int maxPositions = maxModelLength ?? config.MaxPositionEmbeddings;
            var rope = new RotaryEmbedding(config, maxPositions, dtype, device);
            var model = new LlamaModel(config, layers, embed, norm, lmHead, rope, dtype, device)
            {
                WeightBytes = weightBytes * KvCache.PagedKvCache.ElementSize(dtype),
            };
            built.Clear();
            return model;
        }
        finally
        {
            foreach (IDisposable d in built)
            {
                d.Dispose();
            }
        }
    }
}

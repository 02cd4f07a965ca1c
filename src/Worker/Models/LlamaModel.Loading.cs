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
        return Load(config, weights, dtype, PipelineStage.Single(device, config.NumHiddenLayers), maxModelLength);
    }

    /// <summary>
    /// Builds the model split into <paramref name="stages"/>: each layer's weights on its stage's device, the embedding
    /// on the first stage's, the final norm and lm_head on the last's. Tied embeddings are then held twice, once on
    /// each end (as every pipeline split of a tied model does); one stage is exactly the unsplit model.
    /// </summary>
    public static LlamaModel Load(
        ModelConfig config, IWeightSource weights, ScalarType dtype, IReadOnlyList<PipelineStage> stages, int? maxModelLength = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(stages);
        if (stages.Count == 0 || stages[^1].EndLayer != config.NumHiddenLayers)
        {
            throw new ArgumentException(
                $"Pipeline stages ({PipelineStage.Describe(stages)}) do not cover the model's {config.NumHiddenLayers} decoder layers.", nameof(stages));
        }

        var layerDevices = new Device[config.NumHiddenLayers];
        for (int s = 0; s < stages.Count; s++)
        {
            if (stages[s].Index != s || stages[s].NumLayers < 1 || stages[s].FirstLayer != (s == 0 ? 0 : stages[s - 1].EndLayer))
            {
                throw new ArgumentException($"Pipeline stage {s} ({PipelineStage.Describe([stages[s]])}) does not continue the stage before it.", nameof(stages));
            }

            for (int i = stages[s].FirstLayer; i < stages[s].EndLayer; i++)
            {
                layerDevices[i] = stages[s].Device;
            }
        }

        Device first = stages[0].Device;
        Device last = stages[^1].Device;

        long hidden = config.HiddenSize;
        long qDim = (long)config.NumAttentionHeads * config.HeadDim;
        long kvDim = (long)config.NumKeyValueHeads * config.HeadDim;
        long inter = config.IntermediateSize;
        long vocab = config.VocabSize;

        var built = new List<IDisposable>();
        try
        {
            Tensor Read(Device device, string name, params long[] shape)
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
                Device d = layerDevices[i];
                Tensor? bias = null;
                if (config.AttentionBias)
                {
                    bias = Fuse(
                        Read(d, p + "self_attn.q_proj.bias", qDim),
                        Read(d, p + "self_attn.k_proj.bias", kvDim),
                        Read(d, p + "self_attn.v_proj.bias", kvDim));
                }

                layers[i] = new DecoderLayer
                {
                    InputLayernorm = Read(d, p + "input_layernorm.weight", hidden),
                    QkvProj = Fuse(
                        Read(d, p + "self_attn.q_proj.weight", qDim, hidden),
                        Read(d, p + "self_attn.k_proj.weight", kvDim, hidden),
                        Read(d, p + "self_attn.v_proj.weight", kvDim, hidden)),
                    QkvBias = bias,
                    OProj = Read(d, p + "self_attn.o_proj.weight", hidden, qDim),
                    PostAttentionLayernorm = Read(d, p + "post_attention_layernorm.weight", hidden),
                    GateUpProj = Fuse(
                        Read(d, p + "mlp.gate_proj.weight", inter, hidden),
                        Read(d, p + "mlp.up_proj.weight", inter, hidden)),
                    DownProj = Read(d, p + "mlp.down_proj.weight", hidden, inter),
                };
                weightBytes += ((qDim + (2 * kvDim)) * hidden) + (qDim * hidden) + (3 * inter * hidden) + (2 * hidden);
            }

            Tensor embed = Read(first, "model.embed_tokens.weight", vocab, hidden);
            Tensor norm = Read(last, "model.norm.weight", hidden);

            // Tied checkpoints sometimes still ship lm_head.weight; prefer it when present, as HF does after tying.
            // Tied and split: the constructor gives the last stage its own copy.
            Tensor lmHead = !config.TieWordEmbeddings || weights.Contains("lm_head.weight")
                ? Read(last, "lm_head.weight", vocab, hidden)
                : embed;
            weightBytes += (vocab * hidden) + hidden;

            int maxPositions = maxModelLength ?? config.MaxPositionEmbeddings;
            var ropes = new RotaryEmbedding[stages.Count];
            for (int s = 0; s < stages.Count; s++)
            {
                ropes[s] = new RotaryEmbedding(config, maxPositions, dtype, stages[s].Device);
                built.Add(ropes[s]);
            }

            var model = new LlamaModel(config, layers, embed, norm, lmHead, ropes, dtype, [.. stages])
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

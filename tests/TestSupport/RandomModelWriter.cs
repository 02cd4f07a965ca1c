using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Tokenization;
using static TorchSharp.torch;

namespace Inference.TestSupport;

/// <summary>
/// Writes a complete Hugging Face model folder with deterministic random weights: config.json,
/// model.safetensors and real tokenizer files. Used by tests, benchmarks and the bundled test model.
/// </summary>
public static class RandomModelWriter
{
    public static void Write(string dir, ModelConfig config, long seed = 0, string dtype = "F32")
    {
        ArgumentNullException.ThrowIfNull(config);
        Directory.CreateDirectory(dir);
        SyntheticTokenizerKind kind = config.Architecture switch
        {
            ModelArchitecture.Qwen2 => SyntheticTokenizerKind.ChatMlBpe,
            ModelArchitecture.Llama when config.RopeScaling?.Type == "llama3" => SyntheticTokenizerKind.ByteLevelBpe,
            _ => SyntheticTokenizerKind.SentencePiece,
        };
        SyntheticTokenizerWriter.Write(dir, kind, config.VocabSize);

        var tokenizer = ModelTokenizer.Load(dir);
        ModelConfigWriter.Write(dir, config, dtype, tokenizer.BosTokenId, tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0] : null);

        var source = new RandomWeightSource(seed);
        var tensors = new List<(string Name, Tensor Tensor)>();
        try
        {
            foreach ((string name, long[] shape) in TensorShapes(config))
            {
                tensors.Add((name, source.Read(name, shape, ScalarType.Float32, CPU)));
            }

            SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, dtype);
        }
        finally
        {
            foreach ((_, Tensor t) in tensors)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>Every tensor a checkpoint of <paramref name="config"/> holds, with Hugging Face names.</summary>
    public static IEnumerable<(string Name, long[] Shape)> TensorShapes(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long h = config.HiddenSize;
        long q = (long)config.NumAttentionHeads * config.HeadDim;
        long kv = (long)config.NumKeyValueHeads * config.HeadDim;
        long inter = config.IntermediateSize;
        yield return ("model.embed_tokens.weight", [config.VocabSize, h]);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return (p + "input_layernorm.weight", [h]);
            yield return (p + "self_attn.q_proj.weight", [q, h]);
            yield return (p + "self_attn.k_proj.weight", [kv, h]);
            yield return (p + "self_attn.v_proj.weight", [kv, h]);
            if (config.AttentionBias)
            {
                yield return (p + "self_attn.q_proj.bias", [q]);
                yield return (p + "self_attn.k_proj.bias", [kv]);
                yield return (p + "self_attn.v_proj.bias", [kv]);
            }

            yield return (p + "self_attn.o_proj.weight", [h, q]);
            yield return (p + "post_attention_layernorm.weight", [h]);
            yield return (p + "mlp.gate_proj.weight", [inter, h]);
            yield return (p + "mlp.up_proj.weight", [inter, h]);
            yield return (p + "mlp.down_proj.weight", [h, inter]);
        }

        yield return ("model.norm.weight", [h]);
        if (!config.TieWordEmbeddings)
        {
            yield return ("lm_head.weight", [config.VocabSize, h]);
        }
    }
}

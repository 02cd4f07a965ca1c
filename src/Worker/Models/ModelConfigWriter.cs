using System.Text.Json;
using System.Text.Json.Nodes;

namespace Inference.Worker.Models;

/// <summary>Writes a Hugging Face config.json for a <see cref="ModelConfig"/> (the fields <see cref="Loading.ModelConfigReader"/> reads).</summary>
public static class ModelConfigWriter
{
    /// <summary>
    /// Writes <paramref name="dir"/>/config.json; <paramref name="dtype"/> (F32, F16 or BF16) becomes torch_dtype.
    /// </summary>
    public static void Write(string dir, ModelConfig config, string dtype, int? bosTokenId, int? eosTokenId)
    {
        ArgumentNullException.ThrowIfNull(config);
        var configJson = new JsonObject
        {
            ["architectures"] = new JsonArray(config.ArchitectureName),
            ["model_type"] = config.Architecture switch { ModelArchitecture.Qwen2 => "qwen2", ModelArchitecture.Mistral => "mistral", _ => "llama" },
            ["vocab_size"] = config.VocabSize,
            ["hidden_size"] = config.HiddenSize,
            ["intermediate_size"] = config.IntermediateSize,
            ["num_hidden_layers"] = config.NumHiddenLayers,
            ["num_attention_heads"] = config.NumAttentionHeads,
            ["num_key_value_heads"] = config.NumKeyValueHeads,
            ["head_dim"] = config.HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = config.RmsNormEps,
            ["rope_theta"] = config.RopeTheta,
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
            ["torch_dtype"] = dtype switch { "BF16" => "bfloat16", "F16" => "float16", _ => "float32" },
            ["bos_token_id"] = bosTokenId,
            ["eos_token_id"] = eosTokenId,
        };
        if (config.RopeScaling is { } rs)
        {
            configJson["rope_scaling"] = rs.Type == "llama3"
                ? new JsonObject
                {
                    ["rope_type"] = "llama3",
                    ["factor"] = rs.Factor,
                    ["low_freq_factor"] = rs.LowFreqFactor,
                    ["high_freq_factor"] = rs.HighFreqFactor,
                    ["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings,
                }
                : new JsonObject { ["rope_type"] = rs.Type, ["factor"] = rs.Factor };
        }

        File.WriteAllText(Path.Combine(dir, "config.json"), configJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

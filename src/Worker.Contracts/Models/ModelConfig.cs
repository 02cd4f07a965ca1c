namespace Inference.Worker.Models;

/// <summary>Which Hugging Face architecture a folder declares (config.json "architectures"[0]).</summary>
public enum ModelArchitecture
{
    /// <summary>LlamaForCausalLM: Llama 2, Llama 3.x, TinyLlama.</summary>
    Llama,

    /// <summary>MistralForCausalLM.</summary>
    Mistral,

    /// <summary>Qwen2ForCausalLM: q/k/v projections carry biases.</summary>
    Qwen2,
}

/// <summary>rope_scaling from config.json. Supported types: "llama3", "linear"; null means none.</summary>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFreqFactor,
    double HighFreqFactor,
    int OriginalMaxPositionEmbeddings);

/// <summary>
/// The fields of a Hugging Face config.json this runtime uses, with upstream names mirrored in
/// PascalCase. Built by <see cref="Loading.ModelConfigReader"/>, which validates every field.
/// </summary>
public sealed record ModelConfig
{
    public required ModelArchitecture Architecture { get; init; }

    /// <summary>The architecture string as written, e.g. "LlamaForCausalLM".</summary>
    public required string ArchitectureName { get; init; }

    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }

    /// <summary>num_key_value_heads; equals <see cref="NumAttentionHeads"/> when absent (no GQA).</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>head_dim; hidden_size / num_attention_heads when absent.</summary>
    public required int HeadDim { get; init; }

    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public required bool TieWordEmbeddings { get; init; }

    /// <summary>True for Qwen2 (q/k/v biases) or when attention_bias is set.</summary>
    public required bool AttentionBias { get; init; }

    /// <summary>hidden_act; only "silu" is supported.</summary>
    public string HiddenAct { get; init; } = "silu";

    /// <summary>torch_dtype as written ("float32", "bfloat16", ...), or null.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>bos_token_id from config.json, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>eos_token_id from config.json (an int or a list), empty if absent.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>sliding_window (Mistral/Qwen2) when set and in use; null otherwise.</summary>
    public int? SlidingWindow { get; init; }
}

using System.Globalization;
using System.Text.Json;
using Inference.Worker.Models;

namespace Inference.Worker.Loading;

/// <summary>
/// Reads and validates a Hugging Face config.json. Defaults mirror transformers' LlamaConfig,
/// MistralConfig and Qwen2Config; every error names config.json and the field.
/// </summary>
public static class ModelConfigReader
{
    /// <summary>The file name looked for in the model folder.</summary>
    public const string FileName = "config.json";

    private const string SupportedArchitectures = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";

    /// <summary>Reads <c>config.json</c> from <paramref name="modelDir"/>.</summary>
    /// <exception cref="ModelLoadException">The file is missing, malformed, or a field is missing, mistyped or unsupported.</exception>
    public static ModelConfig Read(string modelDir)
    {
        var path = Path.Combine(modelDir, FileName);
        if (!File.Exists(path))
        {
            throw new ModelLoadException(path, null,
                Directory.Exists(modelDir)
                    ? "not found; a Hugging Face model folder needs config.json"
                    : $"not found: the model folder {modelDir} does not exist");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException ex)
        {
            throw new ModelLoadException(path, null, $"cannot be read: {ex.Message}", ex);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            // JsonException positions are zero-based; editors count from one.
            var where = ex.LineNumber is { } line
                ? $" at line {line + 1}, position {(ex.BytePositionInLine ?? 0) + 1}"
                : string.Empty;
            throw new ModelLoadException(path, null, $"malformed JSON{where}: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, null, $"must be a JSON object, found a JSON {document.RootElement.ValueKind}");
            }

            return Parse(new Fields(path, document.RootElement));
        }
    }

    private static ModelConfig Parse(Fields f)
    {
        var (architecture, architectureName) = ReadArchitecture(f);

        var vocabSize = f.RequiredPositiveInt("vocab_size");
        var hiddenSize = f.RequiredPositiveInt("hidden_size");
        var intermediateSize = f.RequiredPositiveInt("intermediate_size");
        var numHiddenLayers = f.RequiredPositiveInt("num_hidden_layers");
        var numAttentionHeads = f.RequiredPositiveInt("num_attention_heads");

        var numKeyValueHeads = f.OptionalPositiveInt("num_key_value_heads") ?? numAttentionHeads;
        if (numAttentionHeads % numKeyValueHeads != 0)
        {
            throw f.Error("num_key_value_heads",
                $"{numKeyValueHeads} does not divide num_attention_heads {numAttentionHeads}");
        }

        var headDim = f.OptionalPositiveInt("head_dim");
        if (headDim is null && hiddenSize % numAttentionHeads != 0)
        {
            throw f.Error("head_dim",
                $"is not given and hidden_size {hiddenSize} is not divisible by num_attention_heads {numAttentionHeads}");
        }

        var hiddenAct = f.OptionalString("hidden_act") ?? "silu";
        if (hiddenAct != "silu")
        {
            throw f.Error("hidden_act", $"\"{hiddenAct}\" is not supported (supported: silu)");
        }

        // Every one of the three upstream configs defaults max_position_embeddings differently.
        var maxPositionEmbeddings = f.OptionalPositiveInt("max_position_embeddings") ?? architecture switch
        {
            ModelArchitecture.Mistral => 4096 * 32,
            ModelArchitecture.Qwen2 => 32768,
            _ => 2048,
        };

        var ropeParameters = f.OptionalObject("rope_parameters");
        var ropeTheta = f.OptionalPositiveDouble("rope_theta")
            ?? (ropeParameters is { } rp ? new Fields(f.Path, rp, "rope_parameters.").OptionalPositiveDouble("rope_theta") : null)
            ?? 10000.0;

        var ropeScaling = ReadRopeScaling(f, "rope_scaling", maxPositionEmbeddings)
            ?? (ropeParameters is null ? null : ReadRopeScaling(f, "rope_parameters", maxPositionEmbeddings));

        return new ModelConfig
        {
            Architecture = architecture,
            ArchitectureName = architectureName,
            VocabSize = vocabSize,
            HiddenSize = hiddenSize,
            IntermediateSize = intermediateSize,
            NumHiddenLayers = numHiddenLayers,
            NumAttentionHeads = numAttentionHeads,
            NumKeyValueHeads = numKeyValueHeads,
            HeadDim = headDim ?? hiddenSize / numAttentionHeads,
            RmsNormEps = f.OptionalPositiveDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = ropeTheta,
            RopeScaling = ropeScaling,
            MaxPositionEmbeddings = maxPositionEmbeddings,
            TieWordEmbeddings = f.OptionalBool("tie_word_embeddings") ?? false,
            AttentionBias = ReadAttentionBias(f, architecture),
            HiddenAct = hiddenAct,
            TorchDtype = f.OptionalString("torch_dtype") ?? f.OptionalString("dtype"),
            BosTokenId = f.OptionalNonNegativeInt("bos_token_id"),
            EosTokenIds = ReadEosTokenIds(f),
            SlidingWindow = ReadSlidingWindow(f, architecture, numHiddenLayers),
        };
    }

    private static (ModelArchitecture Architecture, string Name) ReadArchitecture(Fields f)
    {
        if (!f.TryGet("architectures", out var element))
        {
            throw f.Error("architectures", $"missing; expected a list naming one of: {SupportedArchitectures}");
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw f.Error("architectures", $"expected a list of strings, got {Describe(element)}");
        }

        if (element.GetArrayLength() == 0)
        {
            throw f.Error("architectures", $"is empty; expected one of: {SupportedArchitectures}");
        }

        var first = element[0];
        if (first.ValueKind != JsonValueKind.String)
        {
            throw f.Error("architectures", $"expected a list of strings, got {Describe(first)} as its first item");
        }

        var name = first.GetString()!;
        ModelArchitecture? architecture = name switch
        {
            "LlamaForCausalLM" => ModelArchitecture.Llama,
            "MistralForCausalLM" => ModelArchitecture.Mistral,
            "Qwen2ForCausalLM" => ModelArchitecture.Qwen2,
            _ => null,
        };

        return architecture is { } known
            ? (known, name)
            : throw f.Error("architectures", $"\"{name}\" is not supported (supported: {SupportedArchitectures})");
    }

    private static RopeScaling? ReadRopeScaling(Fields f, string field, int maxPositionEmbeddings)
    {
        var obj = f.OptionalObject(field);
        if (obj is null)
        {
            return null;
        }

        var scaling = new Fields(f.Path, obj.Value, field + ".");
        // Older configs write "type"; transformers reads "rope_type" first and falls back to it.
        var typeKey = scaling.TryGet("rope_type", out _) ? "rope_type" : "type";
        var type = scaling.OptionalString(typeKey)
            ?? throw f.Error(field + ".rope_type", "missing; expected \"llama3\" or \"linear\"");

        switch (type)
        {
            case "default":
                return null;
            case "linear":
                return new RopeScaling(
                    "linear",
                    scaling.RequiredPositiveDouble("factor"),
                    LowFreqFactor: 0,
                    HighFreqFactor: 0,
                    scaling.OptionalPositiveInt("original_max_position_embeddings") ?? maxPositionEmbeddings);
            case "llama3":
                var low = scaling.RequiredPositiveDouble("low_freq_factor");
                var high = scaling.RequiredPositiveDouble("high_freq_factor");
                if (high <= low)
                {
                    throw f.Error(field + ".high_freq_factor", $"{high} must be larger than low_freq_factor {low}");
                }

                return new RopeScaling(
                    "llama3",
                    scaling.RequiredPositiveDouble("factor"),
                    low,
                    high,
                    scaling.RequiredPositiveInt("original_max_position_embeddings"));
            default:
                throw f.Error($"{field}.{typeKey}", $"rope scaling type \"{type}\" is not supported (supported: llama3, linear)");
        }
    }

    private static bool ReadAttentionBias(Fields f, ModelArchitecture architecture)
    {
        if (architecture == ModelArchitecture.Llama && f.OptionalBool("mlp_bias") == true)
        {
            throw f.Error("mlp_bias", "true is not supported (MLP projections without bias only)");
        }

        // Qwen2's q/k/v projections always carry biases; upstream Mistral ignores attention_bias.
        return architecture switch
        {
            ModelArchitecture.Qwen2 => true,
            ModelArchitecture.Mistral => false,
            _ => f.OptionalBool("attention_bias") ?? false,
        };
    }

    private static int[] ReadEosTokenIds(Fields f)
    {
        if (!f.TryGet("eos_token_id", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (element.ValueKind == JsonValueKind.Array)
        {
            var ids = new int[element.GetArrayLength()];
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                ids[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id) && id >= 0
                    ? id
                    : throw f.Error("eos_token_id", $"expected a token id or a list of token ids, got {Describe(item)} in the list");
            }

            return ids;
        }

        return [f.OptionalNonNegativeInt("eos_token_id")!.Value];
    }

    private static int? ReadSlidingWindow(Fields f, ModelArchitecture architecture, int numHiddenLayers)
    {
        switch (architecture)
        {
            case ModelArchitecture.Mistral:
                return f.OptionalPositiveInt("sliding_window");
            case ModelArchitecture.Qwen2:
                if (f.OptionalBool("use_sliding_window") != true)
                {
                    return null;
                }

                // Upstream slides only layers at index >= max_window_layers; one window for all layers or none is all we model.
                var maxWindowLayers = f.OptionalNonNegativeInt("max_window_layers") ?? 28;
                if (maxWindowLayers >= numHiddenLayers)
                {
                    return null;
                }

                if (maxWindowLayers > 0)
                {
                    throw f.Error("max_window_layers",
                        $"{maxWindowLayers} mixes sliding-window and full-attention layers (of {numHiddenLayers}), which is not supported");
                }

                return f.OptionalPositiveInt("sliding_window") ?? 4096;
            default:
                return null;
        }
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{element.GetString()}\"",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {element.GetRawText()}",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        _ => element.ValueKind.ToString(),
    };

    /// <summary>Typed access to one JSON object of config.json, with errors naming the file and the field.</summary>
    private readonly struct Fields(string path, JsonElement obj, string prefix = "")
    {
        public string Path { get; } = path;

        public ModelLoadException Error(string field, string message) => new(Path, field, message);

        public bool TryGet(string name, out JsonElement value) => obj.TryGetProperty(name, out value);

        public int RequiredPositiveInt(string name) =>
            OptionalPositiveInt(name) ?? throw Error(prefix + name, "missing required integer field");

        public double RequiredPositiveDouble(string name) =>
            OptionalPositiveDouble(name) ?? throw Error(prefix + name, "missing required number field");

        public int? OptionalPositiveInt(string name)
        {
            var value = OptionalInt(name);
            return value is <= 0 ? throw Error(prefix + name, $"must be positive, got {value}") : value;
        }

        public int? OptionalNonNegativeInt(string name)
        {
            var value = OptionalInt(name);
            return value is < 0 ? throw Error(prefix + name, $"must not be negative, got {value}") : value;
        }

        public double? OptionalPositiveDouble(string name)
        {
            if (!TryGetNonNull(name, out var element))
            {
                return null;
            }

            if (element.ValueKind != JsonValueKind.Number)
            {
                throw Error(prefix + name, $"expected a number, got {Describe(element)}");
            }

            var value = element.GetDouble();
            return value > 0 && double.IsFinite(value)
                ? value
                : throw Error(prefix + name, $"must be positive, got {value.ToString(CultureInfo.InvariantCulture)}");
        }

        public bool? OptionalBool(string name)
        {
            if (!TryGetNonNull(name, out var element))
            {
                return null;
            }

            return element.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error(prefix + name, $"expected true or false, got {Describe(element)}"),
            };
        }

        public string? OptionalString(string name)
        {
            if (!TryGetNonNull(name, out var element))
            {
                return null;
            }

            return element.ValueKind == JsonValueKind.String
                ? element.GetString()
                : throw Error(prefix + name, $"expected a string, got {Describe(element)}");
        }

        public JsonElement? OptionalObject(string name)
        {
            if (!TryGetNonNull(name, out var element))
            {
                return null;
            }

            return element.ValueKind == JsonValueKind.Object
                ? element
                : throw Error(prefix + name, $"expected an object or null, got {Describe(element)}");
        }

        private int? OptionalInt(string name)
        {
            if (!TryGetNonNull(name, out var element))
            {
                return null;
            }

            if (element.ValueKind != JsonValueKind.Number)
            {
                throw Error(prefix + name, $"expected an integer, got {Describe(element)}");
            }

            if (element.TryGetInt32(out var value))
            {
                return value;
            }

            // Some exporters write integral values as floats (4096.0).
            var asDouble = element.GetDouble();
            return asDouble == Math.Floor(asDouble) && asDouble is >= int.MinValue and <= int.MaxValue
                ? (int)asDouble
                : throw Error(prefix + name, $"expected an integer, got {Describe(element)}");
        }

        // JSON null means "use the default", as transformers treats None.
        private bool TryGetNonNull(string name, out JsonElement element) =>
            obj.TryGetProperty(name, out element) && element.ValueKind != JsonValueKind.Null;
    }
}

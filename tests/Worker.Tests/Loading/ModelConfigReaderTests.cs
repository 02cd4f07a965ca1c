using System.Text.Json.Nodes;
using Inference.Worker.Loading;
using Inference.Worker.Models;

namespace Inference.Worker.Tests.Loading;

public sealed class ModelConfigReaderTests
{
    private const string Llama = """
        {
          "architectures": ["LlamaForCausalLM"],
          "vocab_size": 32000,
          "hidden_size": 256,
          "intermediate_size": 688,
          "num_hidden_layers": 4,
          "num_attention_heads": 8,
          "hidden_act": "silu",
          "torch_dtype": "bfloat16",
          "bos_token_id": 1,
          "eos_token_id": [2, 128009]
        }
        """;

    private static ModelConfig ReadWith(string json, Action<JsonObject>? edit = null)
    {
        using var dir = new TempDirectory();
        var node = JsonNode.Parse(json)!.AsObject();
        edit?.Invoke(node);
        File.WriteAllText(dir.File("config.json"), node.ToJsonString());
        return ModelConfigReader.Read(dir.Path);
    }

    private static ModelLoadException ReadFails(string json, Action<JsonObject>? edit = null) =>
        Assert.Throws<ModelLoadException>(() => ReadWith(json, edit));

    [Fact]
    public void Read_MinimalLlama_AppliesUpstreamDefaults()
    {
        var config = ReadWith(Llama);

        Assert.Equal(ModelArchitecture.Llama, config.Architecture);
        Assert.Equal("LlamaForCausalLM", config.ArchitectureName);
        Assert.Equal(32000, config.VocabSize);
        Assert.Equal(8, config.NumKeyValueHeads);
        Assert.Equal(32, config.HeadDim);
        Assert.Equal(1e-6, config.RmsNormEps);
        Assert.Equal(10000.0, config.RopeTheta);
        Assert.Null(config.RopeScaling);
        Assert.Equal(2048, config.MaxPositionEmbeddings);
        Assert.False(config.TieWordEmbeddings);
        Assert.False(config.AttentionBias);
        Assert.Equal("bfloat16", config.TorchDtype);
        Assert.Equal(1, config.BosTokenId);
        Assert.Equal([2, 128009], config.EosTokenIds);
        Assert.Null(config.SlidingWindow);
    }

    [Fact]
    public void Read_ExplicitFields_OverrideDefaults()
    {
        var config = ReadWith(Llama, c =>
        {
            c["num_key_value_heads"] = 2;
            c["head_dim"] = 64;
            c["rms_norm_eps"] = 1e-5;
            c["rope_theta"] = 500000.0;
            c["max_position_embeddings"] = 8192;
            c["tie_word_embeddings"] = true;
            c["attention_bias"] = true;
            c["eos_token_id"] = 7;
        });

        Assert.Equal(2, config.NumKeyValueHeads);
        Assert.Equal(64, config.HeadDim);
        Assert.Equal(1e-5, config.RmsNormEps);
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.Equal(8192, config.MaxPositionEmbeddings);
        Assert.True(config.TieWordEmbeddings);
        Assert.True(config.AttentionBias);
        Assert.Equal([7], config.EosTokenIds);
    }

    [Fact]
    public void Read_NullOptionalFields_UseDefaults()
    {
        var config = ReadWith(Llama, c =>
        {
            c["num_key_value_heads"] = null;
            c["head_dim"] = null;
            c["rope_scaling"] = null;
            c["eos_token_id"] = null;
        });

        Assert.Equal(8, config.NumKeyValueHeads);
        Assert.Equal(32, config.HeadDim);
        Assert.Null(config.RopeScaling);
        Assert.Empty(config.EosTokenIds);
    }

    [Fact]
    public void Read_Qwen2_AttentionBiasAlwaysAndNoSlidingWindowUnlessUsed()
    {
        var config = ReadWith(Llama, c =>
        {
            c["architectures"] = new JsonArray("Qwen2ForCausalLM");
            c["sliding_window"] = 4096;
            c["use_sliding_window"] = false;
        });

        Assert.Equal(ModelArchitecture.Qwen2, config.Architecture);
        Assert.True(config.AttentionBias);
        Assert.Null(config.SlidingWindow);
        Assert.Equal(32768, config.MaxPositionEmbeddings);
    }

    [Fact]
    public void Read_Qwen2SlidingWindowOnAllLayers_SetsWindow()
    {
        var config = ReadWith(Llama, c =>
        {
            c["architectures"] = new JsonArray("Qwen2ForCausalLM");
            c["use_sliding_window"] = true;
            c["sliding_window"] = 1024;
            c["max_window_layers"] = 0;
        });

        Assert.Equal(1024, config.SlidingWindow);
    }

    [Fact]
    public void Read_Qwen2SlidingWindowOnSomeLayers_ThrowsNamingMaxWindowLayers()
    {
        var ex = ReadFails(Llama, c =>
        {
            c["architectures"] = new JsonArray("Qwen2ForCausalLM");
            c["use_sliding_window"] = true;
            c["max_window_layers"] = 2;
        });

        Assert.Contains("config.json: max_window_layers: ", ex.Message);
    }

    [Fact]
    public void Read_Mistral_SlidingWindowAndNoAttentionBias()
    {
        var config = ReadWith(Llama, c =>
        {
            c["architectures"] = new JsonArray("MistralForCausalLM");
            c["sliding_window"] = 4096;
            c["attention_bias"] = true;
        });

        Assert.Equal(ModelArchitecture.Mistral, config.Architecture);
        Assert.Equal(4096, config.SlidingWindow);
        Assert.False(config.AttentionBias);
        Assert.Equal(131072, config.MaxPositionEmbeddings);
    }

    [Fact]
    public void Read_Llama3RopeScaling_Parsed()
    {
        var config = ReadWith(Llama, c => c["rope_scaling"] = JsonNode.Parse("""
            {"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}
            """));

        Assert.Equal(new RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), config.RopeScaling);
    }

    [Fact]
    public void Read_LinearRopeScalingWithOldTypeKey_Parsed()
    {
        var config = ReadWith(Llama, c => c["rope_scaling"] = JsonNode.Parse("""{"type":"linear","factor":2.0}"""));

        Assert.Equal("linear", config.RopeScaling!.Type);
        Assert.Equal(2.0, config.RopeScaling.Factor);
    }

    [Theory]
    [InlineData("""{"rope_type":"yarn","factor":4.0}""", "rope_scaling.rope_type", "yarn")]
    [InlineData("""{"type":"dynamic","factor":2.0}""", "rope_scaling.type", "dynamic")]
    public void Read_UnsupportedRopeScaling_ThrowsNamingRopeType(string scaling, string field, string type)
    {
        var ex = ReadFails(Llama, c => c["rope_scaling"] = JsonNode.Parse(scaling));

        Assert.Contains($"config.json: {field}: ", ex.Message);
        Assert.Contains($"\"{type}\" is not supported (supported: llama3, linear)", ex.Message);
    }

    [Fact]
    public void Read_Llama3RopeScalingMissingFactor_ThrowsNamingNestedField()
    {
        var ex = ReadFails(Llama, c => c["rope_scaling"] = JsonNode.Parse("""
            {"rope_type":"llama3","low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}
            """));

        Assert.Contains("config.json: rope_scaling.factor: missing", ex.Message);
    }

    [Fact]
    public void Read_RopeParametersLayout_ReadsThetaAndScaling()
    {
        var config = ReadWith(Llama, c => c["rope_parameters"] = JsonNode.Parse("""
            {"rope_type":"linear","factor":4.0,"rope_theta":1000000.0}
            """));

        Assert.Equal(1000000.0, config.RopeTheta);
        Assert.Equal("linear", config.RopeScaling!.Type);
        Assert.Equal(4.0, config.RopeScaling.Factor);
    }

    [Fact]
    public void Read_UnknownArchitecture_ThrowsListingSupported()
    {
        var ex = ReadFails(Llama, c => c["architectures"] = new JsonArray("GPT2LMHeadModel"));

        Assert.Contains("config.json: architectures: \"GPT2LMHeadModel\" is not supported", ex.Message);
        Assert.Contains("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM", ex.Message);
    }

    [Fact]
    public void Read_EmptyArchitectures_Throws()
    {
        var ex = ReadFails(Llama, c => c["architectures"] = new JsonArray());

        Assert.Contains("config.json: architectures: is empty", ex.Message);
    }

    [Fact]
    public void Read_MissingArchitectures_Throws()
    {
        var ex = ReadFails(Llama, c => c.Remove("architectures"));

        Assert.Contains("config.json: architectures: missing", ex.Message);
    }

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    public void Read_MissingRequiredField_ThrowsNamingField(string field)
    {
        var ex = ReadFails(Llama, c => c.Remove(field));

        Assert.Contains($"config.json: {field}: missing required integer field", ex.Message);
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void Read_WrongFieldType_ThrowsNamingFieldAndValue()
    {
        var ex = ReadFails(Llama, c => c["hidden_size"] = "256");

        Assert.Contains("config.json: hidden_size: expected an integer, got the string \"256\"", ex.Message);
    }

    [Fact]
    public void Read_FractionalInteger_Throws()
    {
        var ex = ReadFails(Llama, c => c["num_hidden_layers"] = 4.5);

        Assert.Contains("config.json: num_hidden_layers: expected an integer", ex.Message);
    }

    [Fact]
    public void Read_NonPositiveField_Throws()
    {
        var ex = ReadFails(Llama, c => c["num_attention_heads"] = 0);

        Assert.Contains("config.json: num_attention_heads: must be positive, got 0", ex.Message);
    }

    [Fact]
    public void Read_KeyValueHeadsNotDividingHeads_Throws()
    {
        var ex = ReadFails(Llama, c => c["num_key_value_heads"] = 3);

        Assert.Contains("config.json: num_key_value_heads: 3 does not divide num_attention_heads 8", ex.Message);
    }

    [Fact]
    public void Read_HiddenNotDivisibleWithoutHeadDim_ThrowsNamingHeadDim()
    {
        var ex = ReadFails(Llama, c => c["hidden_size"] = 100);

        Assert.Contains("config.json: head_dim: ", ex.Message);
    }

    [Fact]
    public void Read_HiddenActGelu_Throws()
    {
        var ex = ReadFails(Llama, c => c["hidden_act"] = "gelu");

        Assert.Contains("config.json: hidden_act: \"gelu\" is not supported (supported: silu)", ex.Message);
    }

    [Fact]
    public void Read_WrongBoolType_Throws()
    {
        var ex = ReadFails(Llama, c => c["tie_word_embeddings"] = "yes");

        Assert.Contains("config.json: tie_word_embeddings: expected true or false", ex.Message);
    }

    [Fact]
    public void Read_EosListWithString_Throws()
    {
        var ex = ReadFails(Llama, c => c["eos_token_id"] = new JsonArray(2, "x"));

        Assert.Contains("config.json: eos_token_id: ", ex.Message);
    }

    [Fact]
    public void Read_MalformedJson_ThrowsWithLineAndPosition()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), "{\n  \"vocab_size\": 32000,\n  \"hidden_size\": ,\n}");

        var ex = Assert.Throws<ModelLoadException>(() => ModelConfigReader.Read(dir.Path));

        Assert.Contains("config.json: malformed JSON at line 3, position", ex.Message);
    }

    [Fact]
    public void Read_MissingConfig_ThrowsNamingConfigJson()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => ModelConfigReader.Read(dir.Path));

        Assert.Contains("config.json: not found", ex.Message);
    }

    [Fact]
    public void Read_TopLevelArray_Throws()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), "[]");

        var ex = Assert.Throws<ModelLoadException>(() => ModelConfigReader.Read(dir.Path));

        Assert.Contains("config.json: must be a JSON object", ex.Message);
    }
}

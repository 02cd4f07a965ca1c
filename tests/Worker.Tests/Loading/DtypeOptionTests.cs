using Inference.Worker.Loading;
using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Loading;

public sealed class DtypeOptionTests
{
    private static ModelConfig Config(string? torchDtype) => new()
    {
        Architecture = ModelArchitecture.Llama,
        ArchitectureName = "LlamaForCausalLM",
        VocabSize = 16,
        HiddenSize = 8,
        IntermediateSize = 16,
        NumHiddenLayers = 1,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 2,
        HeadDim = 4,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 64,
        TieWordEmbeddings = false,
        AttentionBias = false,
        TorchDtype = torchDtype,
    };

    [Theory]
    [InlineData("float32", ScalarType.Float32)]
    [InlineData("fp32", ScalarType.Float32)]
    [InlineData("float", ScalarType.Float32)]
    [InlineData("float16", ScalarType.Float16)]
    [InlineData("FP16", ScalarType.Float16)]
    [InlineData("half", ScalarType.Float16)]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData("bf16", ScalarType.BFloat16)]
    public void ResolveDtype_ExplicitName_ReturnsThatDtype(string option, ScalarType expected)
    {
        Assert.Equal(expected, DtypeOption.ResolveDtype(option, torch.CPU, Config("bfloat16")));
    }

    [Fact]
    public void ResolveDtype_AutoOnCpu_ReturnsFloat32()
    {
        Assert.Equal(ScalarType.Float32, DtypeOption.ResolveDtype("auto", torch.CPU, Config("bfloat16")));
    }

    [Theory]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData("float32", ScalarType.BFloat16)]
    [InlineData(null, ScalarType.BFloat16)]
    [InlineData("float16", ScalarType.Float16)]
    public void ResolveDtype_AutoOnCuda_FollowsCheckpoint(string? torchDtype, ScalarType expected)
    {
        // A Device object does not need a GPU to exist.
        var cuda = new Device(DeviceType.CUDA, 0);

        Assert.Equal(expected, DtypeOption.ResolveDtype("auto", cuda, Config(torchDtype)));
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("")]
    [InlineData("fp8")]
    public void ResolveDtype_UnknownOption_ThrowsNamingOptionAndAllowedValues(string option)
    {
        var ex = Assert.Throws<ArgumentException>(() => DtypeOption.ResolveDtype(option, torch.CPU, Config(null)));

        Assert.Contains("--dtype", ex.Message);
        Assert.Contains($"\"{option}\"", ex.Message);
        Assert.Contains("auto, float32, float16, bfloat16", ex.Message);
    }
}

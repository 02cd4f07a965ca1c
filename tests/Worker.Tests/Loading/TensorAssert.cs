using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Loading;

/// <summary>Exact tensor comparison with readable failures (TorchSharp's equal is element-wise).</summary>
internal static class TensorAssert
{
    public static void Equal(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(Values(expected), Values(actual));
    }

    public static float[] Values(Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        return tensor.detach().to(ScalarType.Float32, torch.CPU).contiguous().data<float>().ToArray();
    }
}

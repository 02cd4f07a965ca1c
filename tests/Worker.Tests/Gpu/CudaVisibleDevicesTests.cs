using Inference.Worker.Gpu;

namespace Inference.Worker.Tests.Gpu;

public sealed class CudaVisibleDevicesTests
{
    private static readonly string[] Uuids = ["GPU-aaaa1111-0000", "GPU-aaaa2222-0000", "GPU-bbbb3333-0000"];

    [Theory]
    [InlineData(null, 3)]
    [InlineData("2,0", 2)]
    [InlineData("", 0)]
    [InlineData("-1", 0)]
    [InlineData("1,-1,0", 1)]
    public void VisibleCount_FollowsCudaRules(string? visible, int expected) =>
        Assert.Equal(expected, CudaVisibleDevices.VisibleCount(visible, nvmlCount: 3));

    [Theory]
    [InlineData(null, 2, 2)]
    [InlineData("2,0", 0, 2)]
    [InlineData("2,0", 1, 0)]
    [InlineData("GPU-bbbb", 0, 2)]
    [InlineData("aaaa2222", 0, 1)]
    public void ToNvmlIndex_Maps(string? visible, int ordinal, int expected)
    {
        Assert.Equal(expected, CudaVisibleDevices.ToNvmlIndex(ordinal, visible, Uuids, out string failure));
        Assert.Empty(failure);
    }

    [Theory]
    [InlineData(null, 3, "NVML sees 3 GPU(s)")]
    [InlineData("2,0", 2, "CUDA_VISIBLE_DEVICES=2,0 makes 2 GPU(s) visible")]
    [InlineData("GPU-aaaa", 0, "CUDA_VISIBLE_DEVICES entry GPU-aaaa matches more than one GPU")]
    [InlineData("GPU-cccc", 0, "CUDA_VISIBLE_DEVICES entry GPU-cccc matches no GPU's UUID")]
    [InlineData("MIG-1234", 0, "CUDA_VISIBLE_DEVICES entry MIG-1234 is a MIG device, which is not mapped to NVML")]
    [InlineData("7", 0, "CUDA_VISIBLE_DEVICES entry 7 is not one of NVML's 3 GPU(s)")]
    public void ToNvmlIndex_Unmappable_SaysWhy(string? visible, int ordinal, string expected)
    {
        Assert.Null(CudaVisibleDevices.ToNvmlIndex(ordinal, visible, Uuids, out string failure));
        Assert.Equal(expected, failure);
    }
}

using Inference.Worker.Gpu;

namespace Inference.Worker.Tests.Gpu;

public sealed class CudaVisibleDevicesTests
{
    private static readonly string[] Uuids = ["GPU-aaaa1111-0000", "GPU-aaaa2222-0000", "GPU-bbbb3333-0000"];
    private static readonly string[] Alike = ["NVIDIA H200", "NVIDIA H200", "NVIDIA H200"];
    private static readonly string[] Mixed = ["NVIDIA A100-SXM4-80GB", "Tesla T4", "NVIDIA H200"];

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
        Assert.Equal(expected, CudaVisibleDevices.ToNvmlIndex(ordinal, visible, CudaDeviceOrder.PciBusId, Uuids, Mixed, out string failure));
        Assert.Empty(failure);
    }

    [Theory]
    [InlineData(null, 3, "NVML sees 3 GPU(s)")]
    [InlineData("2,0", 2, "CUDA_VISIBLE_DEVICES=2,0 makes 2 GPU(s) visible")]
    [InlineData("GPU-aaaa", 0, "CUDA_VISIBLE_DEVICES entry GPU-aaaa matches more than one GPU")]
    [InlineData("GPU-cccc", 0, "CUDA_VISIBLE_DEVICES entry GPU-cccc matches no GPU's UUID")]
    [InlineData("7", 0, "CUDA_VISIBLE_DEVICES entry 7 is not one of NVML's 3 GPU(s)")]
    public void ToNvmlIndex_Unmappable_SaysWhy(string? visible, int ordinal, string expected)
    {
        Assert.Null(CudaVisibleDevices.ToNvmlIndex(ordinal, visible, CudaDeviceOrder.PciBusId, Uuids, Mixed, out string failure));
        Assert.Equal(expected, failure);
    }

    [Theory]
    [InlineData(null, null, 2, 2)] // CUDA's default order, all GPUs one model: ties keep PCI order
    [InlineData("FASTEST_FIRST", "2,0", 1, 0)]
    public void ToNvmlIndex_FastestFirst_AlikeGpus_Maps(string? order, string? visible, int ordinal, int expected)
    {
        Assert.Equal(expected, CudaVisibleDevices.ToNvmlIndex(ordinal, visible, order, Uuids, Alike, out string failure));
        Assert.Empty(failure);
    }

    [Theory]
    [InlineData(null, null, 1, "CUDA_DEVICE_ORDER is unset (CUDA's default, fastest first)")]
    [InlineData("FASTEST_FIRST", "2,0", 1, "CUDA_DEVICE_ORDER is FASTEST_FIRST (fastest first)")]
    public void ToNvmlIndex_FastestFirst_MixedGpus_RefusesToGuess(string? order, string? visible, int ordinal, string expected)
    {
        Assert.Null(CudaVisibleDevices.ToNvmlIndex(ordinal, visible, order, Uuids, Mixed, out string failure));
        Assert.StartsWith(CudaVisibleDevices.OrderFailurePrefix, failure, StringComparison.Ordinal);
        Assert.StartsWith(expected, failure, StringComparison.Ordinal);
        Assert.Contains("0 NVIDIA A100-SXM4-80GB, 1 Tesla T4, 2 NVIDIA H200", failure, StringComparison.Ordinal);
        Assert.EndsWith("set CUDA_DEVICE_ORDER=PCI_BUS_ID or name the GPU by UUID in CUDA_VISIBLE_DEVICES", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void ToNvmlIndex_FastestFirst_MixedGpus_UuidEntryStillMaps()
    {
        Assert.Equal(2, CudaVisibleDevices.ToNvmlIndex(0, "GPU-bbbb", null, Uuids, Mixed, out string failure));
        Assert.Empty(failure);
    }

    [Fact]
    public void UsePciBusOrderUnlessSet_SetsTheNativeEnvironment_KeepsAnOperatorsChoice()
    {
        // The test process may inherit a value; the worker's own start leaves it as it is then.
        string? inherited = Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable);
        string order = CudaDeviceOrder.UsePciBusOrderUnlessSet();

        Assert.Equal(string.IsNullOrEmpty(inherited) ? CudaDeviceOrder.PciBusId : inherited, order);
        Assert.Equal(order, CudaDeviceOrder.NativeValue()); // what libcuda reads, not only .NET's copy
        Assert.Equal(order, Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable));
        Assert.Equal(order, CudaDeviceOrder.UsePciBusOrderUnlessSet()); // a second call changes nothing
    }

    [Theory]
    [InlineData("MIG-aaaa", 0, null, "more than one")]
    [InlineData("0,MIG-aaaa2", 1, 1, null)]
    [InlineData("MIG-AAAA1", 0, 0, null)]
    [InlineData("MIG-cccc", 0, null, "matches none of NVML's 2 MIG device(s)")]
    [InlineData("MIG-GPU-aaaa1111-0000/1/0", 0, null, "pre-R470")]
    public void ToMigIndex_ByUuidPrefix(string visible, int ordinal, int? expected, string? why)
    {
        string[] migs = ["MIG-aaaa1111-0000", "MIG-aaaa2222-0000"];
        Assert.True(CudaVisibleDevices.IsMigInstance(ordinal, visible));
        Assert.Equal(expected, CudaVisibleDevices.ToMigIndex(ordinal, visible, migs, out string failure));
        if (why is null)
        {
            Assert.Empty(failure);
        }
        else
        {
            Assert.Contains(why, failure, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("0,MIG-aaaa", 0)]
    [InlineData("MIG-aaaa", 1)]
    public void IsMigInstance_OnlyForAMigEntry(string? visible, int ordinal) =>
        Assert.False(CudaVisibleDevices.IsMigInstance(ordinal, visible));
}

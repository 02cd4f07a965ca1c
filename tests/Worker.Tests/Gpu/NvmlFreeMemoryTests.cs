using Inference.TestSupport.Gpu;
using Inference.Worker.Gpu;

namespace Inference.Worker.Tests.Gpu;

/// <summary>The free memory the KV budget starts from: the pinned GPU's, or a MIG device's own slice.</summary>
public sealed class NvmlFreeMemoryTests
{
    [Theory]
    [InlineData("cuda:1", null, 150217949184L)]
    [InlineData("cuda:0", "1", 150217949184L)]
    [InlineData("cuda:0", FakeNvml.MigUuid1, 75377410048L - 1073741824L)]
    [InlineData("cuda:1", "0," + FakeNvml.MigUuid0, 75377410048L - 2147483648L)]
    public void TryGet_PinnedDevice_ItsFreeMemory(string device, string? visible, long expected)
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.H200WithTwoMigDevices());

        Assert.True(NvmlFreeMemory.TryGet(device, fake.LibraryPath, visible, CudaDeviceOrder.PciBusId, out long free));
        Assert.Equal(expected, free);
    }

    [Theory]
    [InlineData("cpu", null)]
    [InlineData("cuda:2", null)]
    [InlineData("cuda:0", "MIG-00000000")]
    public void TryGet_NoSuchDevice_False(string device, string? visible)
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.H200WithTwoMigDevices());

        Assert.False(NvmlFreeMemory.TryGet(device, fake.LibraryPath, visible, CudaDeviceOrder.PciBusId, out long free));
        Assert.Equal(0, free);
    }
}

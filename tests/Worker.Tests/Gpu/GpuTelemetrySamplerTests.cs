using Inference.TestSupport.Gpu;
using Inference.Worker.Gpu;

namespace Inference.Worker.Tests.Gpu;

public sealed class GpuTelemetrySamplerTests
{
    [Fact]
    public void Open_FakeH200_SamplesExactValuesInBaseUnits()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.Open([0], fake.LibraryPath);
        GpuTelemetry telemetry = sampler.Current;

        Assert.True(telemetry.IsAvailable, telemetry.Status);
        Assert.Equal("available: 1 GPU(s)", telemetry.Status);
        GpuDeviceSample d = Assert.Single(telemetry.Devices);
        Assert.Equal(
            new GpuDeviceSample
            {
                Index = 0,
                Uuid = FakeNvml.H200Uuid0,
                Name = "NVIDIA H200",
                UtilizationRatio = 0.73,
                MemoryUsedBytes = 1073741824,
                MemoryTotalBytes = 150754820096,
                TemperatureCelsius = 54,
                PowerWatts = 412.345,
                PowerLimitWatts = 700,
                SmClockHertz = 1_980_000_000,
                MemoryClockHertz = 2_619_000_000,
            },
            d);
    }

    [Fact]
    public void Current_FieldsNotSupported_AreNullAndTheRestRead()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config.Remove("0.power_mw");
        config.Remove("0.clock_sm");
        config["0.temp"] = "!3";
        config["0.power_limit_mw"] = "!4"; // no permission: also absent, not zero
        using FakeNvml fake = FakeNvml.Build(config);

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.Open([0], fake.LibraryPath);
        GpuDeviceSample d = Assert.Single(sampler.Current.Devices);

        Assert.Null(d.PowerWatts);
        Assert.Null(d.SmClockHertz);
        Assert.Null(d.TemperatureCelsius);
        Assert.Null(d.PowerLimitWatts);
        Assert.Equal(0.73, d.UtilizationRatio);
        Assert.Equal(2_619_000_000, d.MemoryClockHertz);
        Assert.Equal(1073741824, d.MemoryUsedBytes);
    }

    [Fact]
    public void Open_MissingLibrary_UnavailableWithTheReason()
    {
        string path = Path.Combine(Path.GetTempPath(), "absent-" + Guid.NewGuid().ToString("N"), "libnvidia-ml.so.1");

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.Open([0], path);

        Assert.False(sampler.Current.IsAvailable);
        Assert.Empty(sampler.Current.Devices);
        Assert.StartsWith("unavailable: ", sampler.Current.Status, StringComparison.Ordinal);
        Assert.Contains(path, sampler.Current.Status, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_InitFails_UnavailableWithNvmlError()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["init"] = "999";
        using FakeNvml fake = FakeNvml.Build(config);

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.Open([0], fake.LibraryPath);

        Assert.Equal("unavailable: nvmlInit_v2 failed: Unknown Error", sampler.Current.Status);
    }

    [Fact]
    public void Current_SampledAtMostOncePerInterval()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        using FakeNvml fake = FakeNvml.Build(config);
        var time = new ManualTime();
        using GpuTelemetrySampler sampler = GpuTelemetrySampler.Open([0], fake.LibraryPath, time, TimeSpan.FromSeconds(1));
        Assert.Equal(0.73, sampler.Current.Devices[0].UtilizationRatio);

        config["0.util_gpu"] = "12";
        fake.Configure(config);
        time.Advance(TimeSpan.FromMilliseconds(999));
        double? within = sampler.Current.Devices[0].UtilizationRatio;
        time.Advance(TimeSpan.FromMilliseconds(1));
        double? after = sampler.Current.Devices[0].UtilizationRatio;

        Assert.Equal(0.73, within);
        Assert.Equal(0.12, after);
    }

    [Fact]
    public void ForDevice_Cpu_NoSampler()
    {
        Assert.Null(GpuTelemetrySampler.ForDevice("cpu", "/nonexistent/libnvidia-ml.so.1", TimeProvider.System));
    }

    [Theory]
    [InlineData(null, 1, 1)]
    [InlineData("1", 0, 1)]
    [InlineData("1,0", 1, 0)]
    [InlineData("GPU-5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e11", 0, 1)]
    [InlineData("5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e10,1", 0, 0)]
    public void OpenOrdinal_CudaVisibleDevices_SamplesTheMappedGpu(string? visible, int ordinal, int expectedIndex)
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.OpenOrdinal(ordinal, visible, fake.LibraryPath, TimeProvider.System, TimeSpan.FromSeconds(1));

        GpuDeviceSample d = Assert.Single(sampler.Current.Devices);
        Assert.Equal(expectedIndex, d.Index);
        Assert.Equal(expectedIndex == 0 ? FakeNvml.H200Uuid0 : FakeNvml.H200Uuid1, d.Uuid);
    }

    [Fact]
    public void OpenOrdinal_NoSuchGpu_Unavailable()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.OpenOrdinal(5, null, fake.LibraryPath, TimeProvider.System, TimeSpan.FromSeconds(1));

        Assert.Equal("unavailable: cuda:5 is not an NVML device: NVML sees 2 GPU(s)", sampler.Current.Status);
    }

    [Fact]
    public void OpenOrdinal_MigDevice_SamplesItsOwnMemoryLabelledWithItsGpu()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.H200WithTwoMigDevices());

        // The second MIG device, after a GPU entry: cuda:1.
        using GpuTelemetrySampler sampler = GpuTelemetrySampler.OpenOrdinal(
            1, $"1,{FakeNvml.MigUuid1}", fake.LibraryPath, TimeProvider.System, TimeSpan.FromSeconds(1));

        GpuDeviceSample d = Assert.Single(sampler.Current.Devices);
        Assert.Equal(0, d.Index); // the GPU it is a slice of
        Assert.Equal(FakeNvml.MigUuid1, d.Uuid);
        Assert.Equal("NVIDIA H200 MIG 3g.71gb", d.Name);
        Assert.Equal(1073741824L, d.MemoryUsedBytes);
        Assert.Equal(75377410048L, d.MemoryTotalBytes);
        Assert.Null(d.UtilizationRatio); // NVML does not answer it for a MIG device: absent, not 0
        Assert.Null(d.PowerWatts);
    }

    [Fact]
    public void OpenOrdinal_UnknownMigDevice_UnavailableSayingWhy()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.H200WithTwoMigDevices());

        using GpuTelemetrySampler sampler = GpuTelemetrySampler.OpenOrdinal(
            0, "MIG-00000000", fake.LibraryPath, TimeProvider.System, TimeSpan.FromSeconds(1));

        Assert.Equal("unavailable: cuda:0 is not an NVML MIG device: CUDA_VISIBLE_DEVICES entry MIG-00000000 matches none of NVML's 2 MIG device(s)", sampler.Current.Status);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Inference.TestSupport.Gpu;
using Inference.Worker.Gpu;

namespace Inference.Worker.Tests.Gpu;

/// <summary>The P/Invoke layer against a fake libnvidia-ml compiled from C with nvml.h's layouts.</summary>
public sealed class NvmlLibraryTests
{
    [Fact]
    public void Structs_Layout_MatchesNvmlH()
    {
        // nvmlProcessInfo_v2_t (= nvmlProcessInfo_t, what _v3 and _v2 fill): pid, 4 bytes padding, usedGpuMemory, two ids.
        Assert.Equal(24, Unsafe.SizeOf<NvmlProcessInfo>());
        Assert.Equal(0, (int)Marshal.OffsetOf<NvmlProcessInfo>(nameof(NvmlProcessInfo.Pid)));
        Assert.Equal(8, (int)Marshal.OffsetOf<NvmlProcessInfo>(nameof(NvmlProcessInfo.UsedGpuMemory)));
        Assert.Equal(16, (int)Marshal.OffsetOf<NvmlProcessInfo>(nameof(NvmlProcessInfo.GpuInstanceId)));
        Assert.Equal(20, (int)Marshal.OffsetOf<NvmlProcessInfo>(nameof(NvmlProcessInfo.ComputeInstanceId)));
        Assert.Equal(24, Unsafe.SizeOf<NvmlMemory>());
        Assert.Equal(8, Unsafe.SizeOf<NvmlUtilization>());
    }

    [Fact]
    public void TryOpen_MissingLibrary_NullWithThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "libnvidia-ml.so.1");

        NvmlLibrary? nvml = NvmlLibrary.TryOpen(path, out string failure);

        Assert.Null(nvml);
        Assert.Contains(path, failure, StringComparison.Ordinal);
        Assert.Contains("could not be loaded", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void TryOpen_InitFails_NullWithNvmlErrorString()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["init"] = "9";
        using FakeNvml fake = FakeNvml.Build(config);

        NvmlLibrary? nvml = NvmlLibrary.TryOpen(fake.LibraryPath, out string failure);

        Assert.Null(nvml);
        Assert.Equal("nvmlInit_v2 failed: Driver Not Loaded", failure);
    }

    [Fact]
    public void ResolvePath_Configured_WinsOverDefault()
    {
        Assert.Equal("/opt/x/libnvidia-ml.so.1", NvmlLibrary.ResolvePath("/opt/x/libnvidia-ml.so.1"));
        if (Environment.GetEnvironmentVariable(NvmlLibrary.EnvironmentVariable) is null)
        {
            Assert.Equal("libnvidia-ml.so.1", NvmlLibrary.ResolvePath(null));
        }
    }

    [Fact]
    public void DeviceQueries_FakeH200_ReturnTheExactRawValues()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());
        using NvmlLibrary nvml = Open(fake);

        Assert.Equal(NvmlReturn.Success, nvml.DeviceCount(out uint count));
        Assert.Equal(2u, count);
        Assert.Equal(NvmlReturn.Success, nvml.DeviceHandle(1, out nint device));
        Assert.Equal(NvmlReturn.Success, nvml.Uuid(device, out string uuid));
        Assert.Equal(NvmlReturn.Success, nvml.Name(device, out string name));
        Assert.Equal(NvmlReturn.Success, nvml.Utilization(device, out NvmlUtilization utilization));
        Assert.Equal(NvmlReturn.Success, nvml.Memory(device, out NvmlMemory memory));
        Assert.Equal(NvmlReturn.Success, nvml.Temperature(device, out uint celsius));
        Assert.Equal(NvmlReturn.Success, nvml.PowerUsage(device, out uint power));
        Assert.Equal(NvmlReturn.Success, nvml.EnforcedPowerLimit(device, out uint limit));
        Assert.Equal(NvmlReturn.Success, nvml.Clock(device, NvmlClock.Sm, out uint sm));
        Assert.Equal(NvmlReturn.Success, nvml.Clock(device, NvmlClock.Memory, out uint mem));

        Assert.Equal(FakeNvml.H200Uuid1, uuid);
        Assert.Equal("NVIDIA H200", name);
        Assert.Equal((5u, 1u), (utilization.Gpu, utilization.Memory));
        Assert.Equal((150754820096ul, 150217949184ul, 536870912ul), (memory.Total, memory.Free, memory.Used));
        Assert.Equal(31u, celsius);
        Assert.Equal(75500u, power);
        Assert.Equal(700000u, limit);
        Assert.Equal(345u, sm);
        Assert.Equal(2619u, mem);
        Assert.Equal(NvmlReturn.InvalidArgument, nvml.DeviceHandle(2, out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ComputeProcesses_TwelveProcesses_ReadsEachPidAndMemory(bool withoutV3)
    {
        // Twelve are more than the first call's slack: the list is asked for again with the size NVML gave.
        var expected = Enumerable.Range(0, 12).Select(i => (Pid: 4000 + i, Bytes: i == 3 ? (long?)null : (1L << 33) + i)).ToArray();
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.procs"] = FakeNvml.Processes(expected);
        using FakeNvml fake = FakeNvml.Build(config, withoutV3);
        using NvmlLibrary nvml = Open(fake);
        Assert.Equal(NvmlReturn.Success, nvml.DeviceHandle(0, out nint device));

        NvmlReturn status = nvml.ComputeProcesses(device, out GpuProcess[] processes);

        Assert.Equal(NvmlReturn.Success, status);
        Assert.Equal(expected.Select(e => new GpuProcess(e.Pid, e.Bytes)), processes);
        Assert.Equal(NvmlReturn.Success, nvml.DeviceHandle(1, out nint idle));
        Assert.Equal(NvmlReturn.Success, nvml.ComputeProcesses(idle, out GpuProcess[] none));
        Assert.Empty(none);
    }

    [Fact]
    public void Queries_NotSupported_ReturnTheCode()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config.Remove("0.power_mw");
        config["0.temp"] = "!3";
        using FakeNvml fake = FakeNvml.Build(config);
        using NvmlLibrary nvml = Open(fake);
        Assert.Equal(NvmlReturn.Success, nvml.DeviceHandle(0, out nint device));

        Assert.Equal(NvmlReturn.NotSupported, nvml.PowerUsage(device, out _));
        Assert.Equal(NvmlReturn.NotSupported, nvml.Temperature(device, out _));
        Assert.Equal("Not Supported", nvml.ErrorString(NvmlReturn.NotSupported));
    }

    private static NvmlLibrary Open(FakeNvml fake) =>
        NvmlLibrary.TryOpen(fake.LibraryPath, out string failure) ?? throw new InvalidOperationException(failure);
}

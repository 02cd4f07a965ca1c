using Inference.TestSupport.Gpu;
using Inference.Worker.Gpu;
using Inference.Worker.Runtime;
using Inference.Worker.Tests.Demo;

namespace Inference.Worker.Tests.Gpu;

/// <summary>The start-up refusal of a missing or busy cuda:N, against the fake NVML.</summary>
public sealed class DeviceAdmissionTests
{
    private const int OwnPid = 31337;

    [Fact]
    public void EnsureUsable_OtherComputeProcesses_RefusedNamingEachPidAndItsMemory()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["1.procs"] = FakeNvml.Processes((4242, 1610612736), (777, null), (OwnPid, 1 << 20));
        using FakeNvml fake = FakeNvml.Build(config);

        var ex = Assert.Throws<ArgumentException>(() => Check(fake, "cuda:1"));

        Assert.Equal(
            $"--device cuda:1 (GPU 1 NVIDIA H200 ({FakeNvml.H200Uuid1})) is busy: 2 other compute process(es) run on it: " +
            "pid 4242 (1.50 GiB), pid 777 (memory unknown). Pass --allow-shared-device to share it.",
            ex.Message);
    }

    [Fact]
    public void EnsureUsable_BusyButAllowShared_Passes()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.procs"] = FakeNvml.Processes((4242, 1610612736));
        config["0.mem_used"] = "100000000000";
        using FakeNvml fake = FakeNvml.Build(config);

        Check(fake, "cuda", allowShared: true);
    }

    [Fact]
    public void EnsureUsable_OnlyOwnProcessAndLittleMemory_Passes()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.procs"] = FakeNvml.Processes((OwnPid, 1 << 30));
        using FakeNvml fake = FakeNvml.Build(config);

        Check(fake, "cuda:0");
    }

    [Fact]
    public void EnsureUsable_MemoryOverTheFraction_Refused()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.mem_used"] = (30L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using FakeNvml fake = FakeNvml.Build(config);

        var ex = Assert.Throws<ArgumentException>(() => Check(fake, "cuda:0"));
        Check(fake, "cuda:0", busyFraction: 0.25); // 21.4% is under a 25% limit

        Assert.Equal(
            $"--device cuda:0 (GPU 0 NVIDIA H200 ({FakeNvml.H200Uuid0})) is busy: 30.00 GiB of its 140.40 GiB are in use " +
            "(21.4%, over the 10% of --busy-device-memory-fraction). Pass --allow-shared-device to share it.",
            ex.Message);
    }

    [Fact]
    public void EnsureUsable_NoSuchIndex_RefusedListingTheGpus()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        var ex = Assert.Throws<ArgumentException>(() => Check(fake, "cuda:2"));

        Assert.Equal(
            $"--device cuda:2: no such GPU; NVML sees 2 GPU(s): 0 NVIDIA H200 ({FakeNvml.H200Uuid0}), 1 NVIDIA H200 ({FakeNvml.H200Uuid1}).",
            ex.Message);
    }

    [Fact]
    public void EnsureUsable_IndexHiddenByCudaVisibleDevices_Refused()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        var ex = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:1", false, 0.1, fake.LibraryPath, visibleDevices: "1", ownPid: OwnPid));

        Assert.StartsWith("--device cuda:1: no such GPU; CUDA_VISIBLE_DEVICES=1 makes 1 GPU(s) visible; NVML sees 2 GPU(s): 0 NVIDIA H200", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureUsable_FastestFirstOnMixedGpus_RefusedAsUnidentifiable_PciOrderChecksTheRightOne()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.name"] = "NVIDIA A100-SXM4-80GB";
        config["1.procs"] = FakeNvml.Processes((4242, 1 << 30));
        using FakeNvml fake = FakeNvml.Build(config);

        // Fastest first, CUDA's cuda:0 may be NVML's 1: no check can be trusted, so the start is refused.
        var ex = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:0", false, 0.1, fake.LibraryPath, visibleDevices: null, ownPid: OwnPid, deviceOrder: "FASTEST_FIRST"));
        Assert.StartsWith("--device cuda:0: cannot tell which GPU it is, so cannot check that it is free: CUDA_DEVICE_ORDER is FASTEST_FIRST", ex.Message, StringComparison.Ordinal);
        Assert.Contains("0 NVIDIA A100-SXM4-80GB, 1 NVIDIA H200", ex.Message, StringComparison.Ordinal);

        // In PCI bus order (what the worker sets), cuda:0 is NVML's 0 (free) and cuda:1 is NVML's 1 (busy).
        DeviceAdmission.EnsureUsable("cuda:0", false, 0.1, fake.LibraryPath, visibleDevices: null, ownPid: OwnPid, deviceOrder: CudaDeviceOrder.PciBusId);
        var busy = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:1", false, 0.1, fake.LibraryPath, visibleDevices: null, ownPid: OwnPid, deviceOrder: CudaDeviceOrder.PciBusId));
        Assert.Contains("pid 4242", busy.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureUsable_MigDevice_CheckedAsItself()
    {
        Dictionary<string, string> config = FakeNvml.H200WithTwoMigDevices();
        config["0/2.procs"] = FakeNvml.Processes((4242, 1 << 30));
        using FakeNvml fake = FakeNvml.Build(config);

        // MIG device 0/0 is idle; its sibling 0/2 runs another process: one refused, the other not.
        DeviceAdmission.EnsureUsable("cuda:0", false, 0.1, fake.LibraryPath, visibleDevices: FakeNvml.MigUuid0, ownPid: OwnPid);
        var busy = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:0", false, 0.1, fake.LibraryPath, visibleDevices: FakeNvml.MigUuid1, ownPid: OwnPid));
        Assert.Equal(
            $"--device cuda:0 (MIG 0/2 NVIDIA H200 MIG 3g.71gb ({FakeNvml.MigUuid1})) is busy: 1 other compute process(es) run on it: pid 4242 (1.00 GiB). " +
            "Pass --allow-shared-device to share it.",
            busy.Message);

        // Memory is the slice's own: 2 GiB of 70.2 GiB is under 10 %, over 2 %.
        var full = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:0", false, 0.02, fake.LibraryPath, visibleDevices: FakeNvml.MigUuid0, ownPid: OwnPid));
        Assert.Contains("2.00 GiB of its 70.20 GiB are in use", full.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MIG-00000000", "CUDA_VISIBLE_DEVICES entry MIG-00000000 matches none of NVML's 2 MIG device(s)")]
    [InlineData("MIG-8c1d2e3f", "CUDA_VISIBLE_DEVICES entry MIG-8c1d2e3f matches more than one MIG device")]
    [InlineData("MIG-GPU-5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e10/1/0", "CUDA_VISIBLE_DEVICES entry MIG-GPU-5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e10/1/0 is the pre-R470 MIG-GPU-uuid/gi/ci form")]
    public void EnsureUsable_UnknownMigDevice_RefusedListingNvmlsMigDevices(string visible, string why)
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.H200WithTwoMigDevices());

        var ex = Assert.Throws<ArgumentException>(() =>
            DeviceAdmission.EnsureUsable("cuda:0", false, 0.1, fake.LibraryPath, visibleDevices: visible, ownPid: OwnPid));

        Assert.StartsWith($"--device cuda:0: no such MIG device; {why}", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(
            $"; NVML's MIG devices: MIG 0/0 NVIDIA H200 MIG 3g.71gb ({FakeNvml.MigUuid0}), MIG 0/2 NVIDIA H200 MIG 3g.71gb ({FakeNvml.MigUuid1}).",
            ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureUsable_CpuOrNoNvml_Passes()
    {
        DeviceAdmission.EnsureUsable("cpu", false, 0.1, "/nonexistent/libnvidia-ml.so.1", null, OwnPid);
        DeviceAdmission.EnsureUsable("cuda:3", false, 0.1, "/nonexistent/libnvidia-ml.so.1", null, OwnPid);
    }

    [Fact]
    public void ModelRuntimeLoad_BusyDevice_RefusedBeforeLoading()
    {
        // The check runs before DeviceOption (which, on this CPU build, would refuse cuda for another reason).
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["0.procs"] = FakeNvml.Processes((4242, 1610612736));
        using FakeNvml fake = FakeNvml.Build(config);
        var options = new WorkerOptions { ModelDir = BundledModel.Directory(), Device = "cuda:0", NvmlLibrary = fake.LibraryPath };

        var ex = Assert.Throws<ArgumentException>(() => ModelRuntime.Load(options));

        Assert.Contains("--device cuda:0 (GPU 0 NVIDIA H200", ex.Message, StringComparison.Ordinal);
        Assert.Contains("pid 4242 (1.50 GiB)", ex.Message, StringComparison.Ordinal);
    }

    private static void Check(FakeNvml fake, string device, bool allowShared = false, double busyFraction = 0.1) =>
        DeviceAdmission.EnsureUsable(device, allowShared, busyFraction, fake.LibraryPath, visibleDevices: null, ownPid: OwnPid);
}

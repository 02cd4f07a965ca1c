using System.Runtime.InteropServices;

namespace Inference.Worker.Gpu;

/// <summary>
/// nvmlProcessInfo_t, which nvml.h (API 12 and 13) defines as nvmlProcessInfo_v2_t: the layout both
/// nvmlDeviceGetComputeRunningProcesses_v3 and _v2 fill. unsigned int pid at 0, 4 bytes of padding, unsigned long
/// long usedGpuMemory at 8, gpuInstanceId at 16, computeInstanceId at 20: 24 bytes (the _v1 function's struct is the
/// first two fields only, 16 bytes, and is not used here).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlProcessInfo
{
    /// <summary>NVML_VALUE_NOT_AVAILABLE as an unsigned long long (WDDM reports it for every process).</summary>
    public const ulong ValueNotAvailable = ulong.MaxValue;

    public uint Pid;
    public ulong UsedGpuMemory;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}

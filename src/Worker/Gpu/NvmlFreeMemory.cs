namespace Inference.Worker.Gpu;

/// <summary>Free memory of the device a worker is pinned to, from NVML (for the KV cache's default budget).</summary>
internal static class NvmlFreeMemory
{
    public static bool TryGet(string device, string? nvmlLibrary, out long free)
    {
        free = 0;
        if (GpuTelemetrySampler.CudaOrdinal(device) is not int ordinal)
        {
            return false;
        }

        using NvmlDevices? devices = NvmlDevices.TryOpen(nvmlLibrary, out _);
        if (devices is null
            || CudaVisibleDevices.ToNvmlIndex(
                ordinal, Environment.GetEnvironmentVariable(CudaVisibleDevices.EnvironmentVariable), Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable), devices.Uuids, devices.Names, out _) is not int index
            || devices.Handles[index] == 0
            || devices.Nvml.Memory(devices.Handles[index], out NvmlMemory memory) != NvmlReturn.Success)
        {
            return false;
        }

        free = (long)memory.Free;
        return true;
    }
}

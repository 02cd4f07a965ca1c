namespace Inference.Worker.Gpu;

/// <summary>Free memory of the device a worker is pinned to, from NVML (for the KV cache's default budget).</summary>
internal static class NvmlFreeMemory
{
    public static bool TryGet(string device, string? nvmlLibrary, out long free) =>
        TryGet(device, nvmlLibrary, Environment.GetEnvironmentVariable(CudaVisibleDevices.EnvironmentVariable), Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable), out free);

    internal static bool TryGet(string device, string? nvmlLibrary, string? visible, string? deviceOrder, out long free)
    {
        free = 0;
        if (GpuTelemetrySampler.CudaOrdinal(device) is not int ordinal)
        {
            return false;
        }

        using NvmlDevices? devices = NvmlDevices.TryOpen(nvmlLibrary, out _);
        if (devices?.Find(ordinal, visible, deviceOrder, out _) is not NvmlTarget target // a MIG device's memory is its own slice
            || target.Handle == 0
            || devices.Nvml.Memory(target.Handle, out NvmlMemory memory) != NvmlReturn.Success)
        {
            return false;
        }

        free = (long)memory.Free;
        return true;
    }
}

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
        if (devices is null)
        {
            return false;
        }

        nint handle;
        if (CudaVisibleDevices.IsMigInstance(ordinal, visible))
        {
            if (CudaVisibleDevices.ToMigIndex(ordinal, visible!, [.. devices.Migs.Select(m => m.Uuid)], out _) is not int mig)
            {
                return false;
            }

            handle = devices.Migs[mig].Handle; // a MIG device's memory is its own slice
        }
        else if (CudaVisibleDevices.ToNvmlIndex(
            ordinal, visible, deviceOrder, devices.Uuids, devices.Names, out _) is int index)
        {
            handle = devices.Handles[index];
        }
        else
        {
            return false;
        }

        if (handle == 0 || devices.Nvml.Memory(handle, out NvmlMemory memory) != NvmlReturn.Success)
        {
            return false;
        }

        free = (long)memory.Free;
        return true;
    }
}

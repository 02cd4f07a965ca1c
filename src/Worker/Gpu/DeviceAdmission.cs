using System.Globalization;
using System.Text;

namespace Inference.Worker.Gpu;

/// <summary>
/// The start-up check for --device cuda:N, before any weight is read: the device must exist, and must not be
/// busy (other processes with a compute context on it, or more than a fraction of its memory in use) unless
/// sharing is allowed. A MIG device (CUDA_VISIBLE_DEVICES=MIG-...) is checked as its own device: its processes and
/// its share of memory. Asks NVML; where NVML is unavailable it passes, and the CUDA runtime's device count
/// (DeviceOption) is the only check. A refusal is an ArgumentException whose message names the device and what
/// was found, which `serve` prints as the error.
/// </summary>
public static class DeviceAdmission
{
    public const string AllowSharedFlag = "--allow-shared-device";
    public const string BusyFractionFlag = "--busy-device-memory-fraction";

    /// <summary>Checks <paramref name="device"/> (cpu passes) in this process's environment.</summary>
    public static void EnsureUsable(string device, bool allowShared, double busyMemoryFraction, string? nvmlLibrary) =>
        EnsureUsable(
            device, allowShared, busyMemoryFraction, nvmlLibrary, Environment.GetEnvironmentVariable(CudaVisibleDevices.EnvironmentVariable), Environment.ProcessId,
            Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable));

    internal static void EnsureUsable(
        string device, bool allowShared, double busyMemoryFraction, string? nvmlLibrary, string? visibleDevices, int ownPid, string? deviceOrder = CudaDeviceOrder.PciBusId)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!(busyMemoryFraction > 0 && busyMemoryFraction <= 1))
        {
            throw new ArgumentException($"{BusyFractionFlag} must be in (0, 1], got {busyMemoryFraction.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (GpuTelemetrySampler.CudaOrdinal(device) is not int ordinal)
        {
            return;
        }

        using NvmlDevices? devices = NvmlDevices.TryOpen(nvmlLibrary, out _);
        if (devices is null)
        {
            return;
        }

        if (devices.Find(ordinal, visibleDevices, deviceOrder, out string failure) is not NvmlTarget target)
        {
            throw new ArgumentException(
                CudaVisibleDevices.IsMigInstance(ordinal, visibleDevices) ? $"--device {device}: no such MIG device; {failure}{MigListing(devices)}."
                : failure.StartsWith(CudaVisibleDevices.OrderFailurePrefix, StringComparison.Ordinal) ? $"--device {device}: cannot tell which GPU it is, so cannot check that it is free: {failure}."
                : $"--device {device}: no such GPU; {failure}{(failure.StartsWith("NVML sees", StringComparison.Ordinal) ? string.Empty : $"; NVML sees {devices.Count} GPU(s)")}{Listing(devices)}.");
        }

        nint handle = target.Handle;
        if (handle == 0 || allowShared)
        {
            return;
        }

        var reasons = new List<string>();
        NvmlLibrary nvml = devices.Nvml;
        if (nvml.ComputeProcesses(handle, out GpuProcess[] processes) == NvmlReturn.Success)
        {
            GpuProcess[] others = Array.FindAll(processes, p => p.Pid != ownPid);
            if (others.Length > 0)
            {
                var text = new StringBuilder();
                text.Append(CultureInfo.InvariantCulture, $"{others.Length} other compute process(es) run on it: ");
                for (int i = 0; i < others.Length; i++)
                {
                    text.Append(i == 0 ? string.Empty : ", ")
                        .Append(CultureInfo.InvariantCulture, $"pid {others[i].Pid} ({(others[i].UsedMemoryBytes is long used ? Bytes(used) : "memory unknown")})");
                }

                reasons.Add(text.ToString());
            }
        }

        if (nvml.Memory(handle, out NvmlMemory memory) == NvmlReturn.Success && memory.Total > 0)
        {
            double fraction = (double)memory.Used / memory.Total;
            if (fraction > busyMemoryFraction)
            {
                reasons.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{Bytes((long)memory.Used)} of its {Bytes((long)memory.Total)} are in use ({fraction * 100:0.0}%, over the {busyMemoryFraction * 100:0.##}% of {BusyFractionFlag})"));
            }
        }

        if (reasons.Count > 0)
        {
            throw new ArgumentException($"--device {device} ({target.Description}) is busy: {string.Join("; ", reasons)}. Pass {AllowSharedFlag} to share it.");
        }
    }

    private static string Listing(NvmlDevices devices)
    {
        if (devices.Count == 0)
        {
            return string.Empty;
        }

        var text = new StringBuilder(": ");
        for (int i = 0; i < devices.Count; i++)
        {
            text.Append(i == 0 ? string.Empty : ", ").Append(devices.Describe(i));
        }

        return text.ToString();
    }

    private static string MigListing(NvmlDevices devices) =>
        devices.Migs.Count == 0 ? "; NVML sees no MIG device" : $"; NVML's MIG devices: {string.Join(", ", devices.Migs.Select(NvmlDevices.DescribeMig))}";

    private static string Bytes(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.00} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB");
}

using System.Runtime.InteropServices;

namespace Inference.Worker.Gpu;

/// <summary>
/// CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; NVML numbers them in PCI bus order. On a
/// machine with GPUs of different models the two disagree, and the device check and telemetry would look at another
/// GPU than the one cuda:N runs on. The worker and the bench therefore set PCI_BUS_ID at start, before libtorch
/// initialises CUDA, unless the variable is set already: then cuda:N and the indices in CUDA_VISIBLE_DEVICES are
/// NVML's indices on any machine. Where an operator chose another order, <see cref="CudaVisibleDevices"/> maps only
/// what it can prove (alike GPUs, or UUIDs in CUDA_VISIBLE_DEVICES).
/// </summary>
public static partial class CudaDeviceOrder
{
    public const string EnvironmentVariable = "CUDA_DEVICE_ORDER";
    public const string PciBusId = "PCI_BUS_ID";

    /// <summary>
    /// Sets CUDA_DEVICE_ORDER=PCI_BUS_ID in the process's native environment (what libcuda reads; .NET's own
    /// SetEnvironmentVariable changes only its copy on Unix) and in .NET's view of it, unless it is set. Call first
    /// thing in Main, before any thread touches CUDA. Returns the order in effect.
    /// </summary>
    public static string UsePciBusOrderUnlessSet()
    {
        string? current = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(current))
        {
            return current;
        }

        if (!OperatingSystem.IsWindows() && SetEnv(EnvironmentVariable, PciBusId, overwrite: 0) != 0)
        {
            throw new InvalidOperationException($"setenv({EnvironmentVariable}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        Environment.SetEnvironmentVariable(EnvironmentVariable, PciBusId);
        return PciBusId;
    }

    /// <summary>Whether CUDA numbers devices in PCI bus order (NVML's order) under this CUDA_DEVICE_ORDER value.</summary>
    public static bool IsPciBusOrder(string? order) => string.Equals(order?.Trim(), PciBusId, StringComparison.Ordinal);

    /// <summary>The value as libcuda sees it (the native environment), for tests and diagnostics.</summary>
    internal static string? NativeValue() =>
        OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable(EnvironmentVariable) : Marshal.PtrToStringUTF8(GetEnv(EnvironmentVariable));

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);
}

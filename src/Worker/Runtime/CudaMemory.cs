using System.Runtime.InteropServices;

namespace Inference.Worker.Runtime;

/// <summary>Free/total device memory from the CUDA driver API (TorchSharp exposes no memory query).</summary>
internal static partial class CudaMemory
{
    [LibraryImport("libcuda.so.1", EntryPoint = "cuMemGetInfo_v2")]
    private static partial int CuMemGetInfo(out nuint free, out nuint total);

    [LibraryImport("libcuda.so.1", EntryPoint = "cuDeviceGet")]
    private static partial int CuDeviceGet(out int device, int ordinal);

    [LibraryImport("libcuda.so.1", EntryPoint = "cuDevicePrimaryCtxRetain")]
    private static partial int CuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport("libcuda.so.1", EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    private static partial int CuDevicePrimaryCtxRelease(int device);

    [LibraryImport("libcuda.so.1", EntryPoint = "cuCtxPushCurrent_v2")]
    private static partial int CuCtxPushCurrent(nint context);

    [LibraryImport("libcuda.so.1", EntryPoint = "cuCtxPopCurrent_v2")]
    private static partial int CuCtxPopCurrent(out nint context);

    /// <summary>
    /// Free/total memory of device <paramref name="ordinal"/>: its primary context (the one libtorch uses) is made
    /// current for the query and the caller's current context restored, so each pipeline stage sizes from its own GPU.
    /// </summary>
    public static bool TryGetInfo(int ordinal, out long free, out long total)
    {
        free = total = 0;
        try
        {
            if (CuDeviceGet(out int device, Math.Max(ordinal, 0)) != 0 || CuDevicePrimaryCtxRetain(out nint context, device) != 0)
            {
                return false;
            }

            try
            {
                if (CuCtxPushCurrent(context) != 0)
                {
                    return false;
                }

                try
                {
                    return TryGetInfo(out free, out total);
                }
                finally
                {
                    _ = CuCtxPopCurrent(out _);
                }
            }
            finally
            {
                _ = CuDevicePrimaryCtxRelease(device);
            }
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Queries the current context (libtorch has made it current once a tensor lives on the device).</summary>
    public static bool TryGetInfo(out long free, out long total)
    {
        free = total = 0;
        try
        {
            if (CuMemGetInfo(out nuint f, out nuint t) != 0)
            {
                return false;
            }

            free = (long)f;
            total = (long)t;
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }
}

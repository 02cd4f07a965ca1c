using System.Runtime.InteropServices;

namespace Inference.Worker.Runtime;

/// <summary>Free/total device memory from the CUDA driver API (TorchSharp exposes no memory query).</summary>
internal static partial class CudaMemory
{
    [LibraryImport("libcuda.so.1", EntryPoint = "cuMemGetInfo_v2")]
    private static partial int CuMemGetInfo(out nuint free, out nuint total);

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

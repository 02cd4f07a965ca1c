using System.Runtime.InteropServices;

namespace Inference.Worker.Gpu;

/// <summary>nvmlMemory_t (v1): three unsigned long longs, 24 bytes, in bytes of device memory.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemory
{
    public ulong Total;
    public ulong Free;
    public ulong Used;
}

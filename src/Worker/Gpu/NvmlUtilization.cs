using System.Runtime.InteropServices;

namespace Inference.Worker.Gpu;

/// <summary>nvmlUtilization_t: percentages (0-100) over the driver's last sample period; 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlUtilization
{
    public uint Gpu;
    public uint Memory;
}

namespace Inference.Worker.Gpu;

/// <summary>nvmlClockType_t: the clock domains the worker reports.</summary>
internal enum NvmlClock
{
    Sm = 1,     // NVML_CLOCK_SM
    Memory = 2, // NVML_CLOCK_MEM
}

namespace Inference.Worker.Gpu;

/// <summary>
/// One GPU's telemetry at one moment, in base units. A field NVML does not support on this device (or could not
/// read) is null, never zero.
/// </summary>
public sealed record GpuDeviceSample
{
    /// <summary>NVML's index of the device (PCI bus order, as nvidia-smi and DCGM number GPUs).</summary>
    public required int Index { get; init; }

    /// <summary>"GPU-" and the device's UUID: stable across reboots and re-enumeration.</summary>
    public required string Uuid { get; init; }

    /// <summary>Product name, e.g. "NVIDIA H200"; empty when NVML does not say.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>Fraction of the last sample period a kernel ran (0-1).</summary>
    public double? UtilizationRatio { get; init; }

    public long? MemoryUsedBytes { get; init; }

    public long? MemoryTotalBytes { get; init; }

    public double? TemperatureCelsius { get; init; }

    public double? PowerWatts { get; init; }

    public double? PowerLimitWatts { get; init; }

    public double? SmClockHertz { get; init; }

    public double? MemoryClockHertz { get; init; }
}

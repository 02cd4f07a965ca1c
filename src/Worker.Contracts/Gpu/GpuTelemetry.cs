namespace Inference.Worker.Gpu;

/// <summary>
/// What a worker knows about its GPU(s): samples of each device it runs on, or why there are none
/// (<see cref="UnavailableReason"/>: no driver, NVML failed, the device could not be found). A worker on the CPU
/// publishes no telemetry at all (null), not an unavailable one.
/// </summary>
public sealed record GpuTelemetry
{
    public IReadOnlyList<GpuDeviceSample> Devices { get; init; } = [];

    /// <summary>Null when the samples are real; otherwise the reason, e.g. "libnvidia-ml.so.1 could not be loaded".</summary>
    public string? UnavailableReason { get; init; }

    public bool IsAvailable => UnavailableReason is null;

    /// <summary>"available: N GPU(s)" or "unavailable: reason", for logs.</summary>
    public string Status => IsAvailable ? $"available: {Devices.Count} GPU(s)" : $"unavailable: {UnavailableReason}";

    public static GpuTelemetry Unavailable(string reason) => new() { UnavailableReason = reason };
}

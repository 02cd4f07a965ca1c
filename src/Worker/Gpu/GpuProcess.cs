namespace Inference.Worker.Gpu;

/// <summary>A process with a compute context on a GPU, and the device memory it holds (null: the driver does not say).</summary>
public readonly record struct GpuProcess(int Pid, long? UsedMemoryBytes);

namespace Inference.Worker.Loading;

/// <summary>
/// How far a checkpoint load has come, reported by <see cref="CheckpointReader"/> after each tensor.
/// </summary>
/// <param name="BytesRead">Bytes of tensor data read so far, as stored in the checkpoint.</param>
/// <param name="TotalBytes">Bytes of tensor data in the whole checkpoint.</param>
/// <param name="TensorsRead">Tensors read so far.</param>
/// <param name="TotalTensors">Tensors in the whole checkpoint.</param>
/// <param name="CurrentTensor">The tensor just read, or null before the first one.</param>
public readonly record struct LoadProgress(
    long BytesRead,
    long TotalBytes,
    int TensorsRead,
    int TotalTensors,
    string? CurrentTensor);

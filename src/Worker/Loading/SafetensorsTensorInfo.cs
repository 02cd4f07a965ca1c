namespace Inference.Worker.Loading;

/// <summary>One entry of a safetensors header.</summary>
/// <param name="Name">The tensor's name, e.g. "model.layers.0.self_attn.q_proj.weight".</param>
/// <param name="Dtype">The dtype as written in the header, e.g. "BF16".</param>
/// <param name="Shape">The shape, outermost dimension first.</param>
/// <param name="DataBegin">Start of the tensor's bytes, relative to the start of the data section.</param>
/// <param name="DataEnd">End (exclusive) of the tensor's bytes, relative to the start of the data section.</param>
public sealed record SafetensorsTensorInfo(
    string Name,
    string Dtype,
    IReadOnlyList<long> Shape,
    long DataBegin,
    long DataEnd)
{
    /// <summary>Bytes the tensor occupies in the file.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>Elements in the tensor (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (var dim in Shape)
            {
                count *= dim;
            }

            return count;
        }
    }
}

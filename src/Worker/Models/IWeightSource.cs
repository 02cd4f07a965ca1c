using static TorchSharp.torch;

namespace Inference.Worker.Models;

/// <summary>Where a model's weights come from (a checkpoint on disk, or generated weights).</summary>
public interface IWeightSource
{
    /// <summary>True when the source holds a tensor with this Hugging Face name.</summary>
    bool Contains(string name);

    /// <summary>
    /// Reads one tensor, checking its shape, cast to <paramref name="dtype"/> on <paramref name="device"/>.
    /// Implementations throw <see cref="Loading.ModelLoadException"/> naming the file and tensor.
    /// </summary>
    Tensor Read(string name, long[] expectedShape, ScalarType dtype, Device device);
}

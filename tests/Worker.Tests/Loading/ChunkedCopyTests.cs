using Inference.Worker.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Loading;

/// <summary>
/// The chunked paths serve tensors over 1 GiB; small chunk sizes exercise them without allocating gigabytes.
/// </summary>
public sealed unsafe class ChunkedCopyTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(3)]
    [InlineData(1 << 20)]
    public void CopyInto_ChunkSmallerThanTensor_CopiesEveryByte(long chunkBytes)
    {
        using var source = torch.arange(10, dtype: ScalarType.Float32).reshape(2, 5);
        using var target = torch.empty([2, 5], ScalarType.Float32);
        var bytes = source.bytes.ToArray();

        fixed (byte* pointer = bytes)
        {
            SafetensorsFile.CopyInto(target, pointer, chunkBytes);
        }

        TensorAssert.Equal(source, target);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(6)]
    [InlineData(1 << 20)]
    public void WriteBytes_ChunkSmallerThanTensor_WritesEveryByte(long chunkBytes)
    {
        using var tensor = torch.arange(7, dtype: ScalarType.Float32).to(ScalarType.BFloat16);
        using var stream = new MemoryStream();

        SafetensorsWriter.WriteBytes(stream, tensor, chunkBytes);

        Assert.Equal(tensor.bytes.ToArray(), stream.ToArray());
    }
}

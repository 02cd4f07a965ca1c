using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Loading;

/// <summary>
/// Writes safetensors files and sharded checkpoints in the layout Hugging Face uses, for the test-model
/// generator, benchmarks and tests.
/// </summary>
public static class SafetensorsWriter
{
    // The data section starts 8-byte aligned so every element type is naturally aligned in a mapping.
    private const int HeaderAlignment = 8;

    // Span lengths are ints: tensors over 1 GiB are written through 1-D chunks of the same storage.
    private const long WriteChunkBytes = 1L << 30;

    /// <summary>
    /// Writes <paramref name="tensors"/>, in the given order, to <paramref name="path"/> as <paramref name="dtype"/>
    /// (F32, F16 or BF16), converting with torch. The header is space-padded to 8-byte alignment.
    /// </summary>
    /// <exception cref="ArgumentException">Unsupported dtype, a duplicate or reserved tensor name.</exception>
    public static void Write(
        string path,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors,
        string dtype = "F32",
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var scalarType = SafetensorsDtype.ToScalarType(dtype)
            ?? throw new ArgumentException(SafetensorsDtype.NotSupportedMessage(dtype), nameof(dtype));
        var elementSize = SafetensorsDtype.ElementSize(dtype)!.Value;

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in tensors)
        {
            if (name == "__metadata__" || !names.Add(name))
            {
                throw new ArgumentException($"tensor name \"{name}\" is reserved or appears twice", nameof(tensors));
            }
        }

        var header = BuildHeader(tensors, dtype, elementSize, metadata);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);

        foreach (var (_, tensor) in tensors)
        {
            using var scope = torch.NewDisposeScope();
            var converted = tensor.detach().to(scalarType, torch.CPU).contiguous();
            if (converted.numel() > 0)
            {
                WriteBytes(stream, converted, WriteChunkBytes);
            }
        }
    }

    /// <summary>
    /// Splits <paramref name="tensors"/> (in order, balanced by size) over <paramref name="shards"/> files named
    /// model-0000i-of-0000n.safetensors in <paramref name="dir"/>, and writes model.safetensors.index.json
    /// with metadata.total_size and weight_map.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shards"/> is below 1 or above the tensor count.</exception>
    public static void WriteSharded(
        string dir,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors,
        int shards,
        string dtype = "F32")
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shards, tensors.Count);
        var elementSize = SafetensorsDtype.ElementSize(dtype) is { } size && SafetensorsDtype.ToScalarType(dtype) is not null
            ? size
            : throw new ArgumentException(SafetensorsDtype.NotSupportedMessage(dtype), nameof(dtype));

        var sizes = tensors.Select(t => t.Tensor.numel() * elementSize).ToArray();
        var totalSize = sizes.Sum();
        var groups = SplitBySize(sizes, shards);

        Directory.CreateDirectory(dir);
        var weightMap = new List<(string Tensor, string Shard)>();
        for (var shard = 0; shard < shards; shard++)
        {
            var fileName = $"model-{shard + 1:D5}-of-{shards:D5}.safetensors";
            var (first, count) = groups[shard];
            var slice = tensors.Skip(first).Take(count).ToList();
            Write(Path.Combine(dir, fileName), slice, dtype);
            weightMap.AddRange(slice.Select(t => (t.Name, fileName)));
        }

        using var stream = new FileStream(Path.Combine(dir, CheckpointReader.IndexFileName), FileMode.Create, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (tensor, shardFile) in weightMap)
        {
            json.WriteString(tensor, shardFile);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static byte[] BuildHeader(
        IReadOnlyList<(string Name, Tensor Tensor)> tensors,
        string dtype,
        int elementSize,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                var end = offset + (tensor.numel() * elementSize);
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var dim in tensor.shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        var padded = (buffer.WrittenCount + HeaderAlignment - 1) / HeaderAlignment * HeaderAlignment;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes a contiguous CPU tensor's bytes, at most <paramref name="chunkBytes"/> per span.</summary>
    internal static void WriteBytes(Stream stream, Tensor tensor, long chunkBytes)
    {
        long elementSize = tensor.ElementSize;
        var total = tensor.numel();
        var chunkElements = Math.Max(1, chunkBytes / elementSize);
        if (total <= chunkElements)
        {
            stream.Write(tensor.bytes);
            return;
        }

        using var flat = tensor.view(-1);
        for (long first = 0; first < total; first += chunkElements)
        {
            using var chunk = flat.narrow(0, first, Math.Min(chunkElements, total - first));
            stream.Write(chunk.bytes);
        }
    }

    private static (int First, int Count)[] SplitBySize(long[] sizes, int shards)
    {
        // Greedy: close a shard once it holds its share of the bytes, leaving at least one tensor per remaining shard.
        var groups = new (int First, int Count)[shards];
        var total = Math.Max(1, sizes.Sum());
        var index = 0;
        long cumulative = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            var first = index;
            var target = total * (shard + 1) / shards;
            do
            {
                cumulative += sizes[index++];
            }
            while (index < sizes.Length - (shards - shard - 1) && (shard == shards - 1 || cumulative < target));

            groups[shard] = (first, index - first);
        }

        return groups;
    }
}

using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using System.Text.Unicode;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Loading;

/// <summary>
/// One .safetensors file, memory-mapped read-only. The header is parsed and every entry checked
/// when the file is opened; tensor bytes are copied straight from the mapping into torch storage.
/// </summary>
/// <remarks>
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping tensor names to
/// {dtype, shape, data_offsets:[begin,end]} (plus an optional "__metadata__" of strings), then the
/// data section that the offsets are relative to.
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    // The reference implementation refuses larger headers; real ones are at most a few MB.
    private const long MaxHeaderLength = 100L << 20;

    // Spans are int-sized; tensors over 2 GiB (a 128k-vocab embedding in bf16) are copied in chunks.
    private const long CopyChunkBytes = 1L << 30;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private bool _disposed;

    private SafetensorsFile(
        string path,
        MemoryMappedFile map,
        MemoryMappedViewAccessor view,
        byte* data,
        long dataLength,
        List<SafetensorsTensorInfo> tensors,
        Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _data = data;
        DataLength = dataLength;
        Tensors = tensors;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Metadata = metadata;
    }

    /// <summary>The file's path as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Length of the data section in bytes.</summary>
    public long DataLength { get; }

    /// <summary>The header's tensor entries, in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>The header's "__metadata__" strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Maps <paramref name="path"/> read-only and validates its header.</summary>
    /// <exception cref="ModelLoadException">The file is missing, malformed or truncated; the message names the file and the entry.</exception>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException(path, null, "file not found");
        }

        var fileLength = new FileInfo(path).Length;

        if (fileLength < 8)
        {
            throw new ModelLoadException(path, null,
                $"file is {fileLength} bytes, shorter than the 8-byte header length that starts every safetensors file");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        var acquired = false;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* basePointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            acquired = true;
            var start = basePointer + view.PointerOffset;

            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(start, 8));
            if (headerLength > (ulong)(fileLength - 8))
            {
                throw new ModelLoadException(path, null,
                    $"header length {headerLength} is larger than the file ({fileLength} bytes); this is not a safetensors file or it is truncated");
            }

            if ((long)headerLength > MaxHeaderLength)
            {
                throw new ModelLoadException(path, null,
                    $"header length {headerLength} exceeds the {MaxHeaderLength}-byte limit");
            }

            var header = new ReadOnlySpan<byte>(start + 8, (int)headerLength);
            var dataLength = fileLength - 8 - (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, dataLength);
            return new SafetensorsFile(path, map, view, start + 8 + (long)headerLength, dataLength, tensors, metadata);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Release(view, map, acquired);
            throw new ModelLoadException(path, null, $"cannot be opened: {ex.Message}", ex);
        }
        catch
        {
            Release(view, map, acquired);
            throw;
        }
    }

    /// <summary>Whether the header has an entry named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The header entry for <paramref name="name"/>.</summary>
    /// <exception cref="ModelLoadException">No such tensor in this file.</exception>
    public SafetensorsTensorInfo GetInfo(string name) =>
        _tensors.TryGetValue(name, out var info)
            ? info
            : throw new ModelLoadException(Path, name, "no such tensor in this file");

    /// <summary>
    /// Copies tensor <paramref name="name"/> into a new CPU tensor of the file's dtype. The caller owns
    /// (and disposes) the result. No managed buffer of the tensor is allocated.
    /// </summary>
    /// <exception cref="ModelLoadException">No such tensor, or its dtype is not F32, F16 or BF16.</exception>
    public Tensor ReadTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = GetInfo(name);
        var scalarType = SafetensorsDtype.ToScalarType(info.Dtype)
            ?? throw new ModelLoadException(Path, name, SafetensorsDtype.NotSupportedMessage(info.Dtype));

        var tensor = torch.empty(info.Shape.ToArray(), scalarType, torch.CPU);
        try
        {
            CopyInto(tensor, _data + info.DataBegin, CopyChunkBytes);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private static void Release(MemoryMappedViewAccessor? view, MemoryMappedFile? map, bool acquired)
    {
        if (acquired)
        {
            view!.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        view?.Dispose();
        map?.Dispose();
    }

    /// <summary>
    /// Copies <paramref name="tensor"/>'s byte size from <paramref name="source"/> into its (contiguous, CPU)
    /// storage, at most <paramref name="chunkBytes"/> per span.
    /// </summary>
    internal static void CopyInto(Tensor tensor, byte* source, long chunkBytes)
    {
        var elementCount = tensor.numel();
        if (elementCount == 0)
        {
            return;
        }

        long elementSize = tensor.ElementSize;
        var byteLength = elementCount * elementSize;
        if (byteLength <= chunkBytes)
        {
            new ReadOnlySpan<byte>(source, (int)byteLength).CopyTo(tensor.bytes);
            return;
        }

        var chunkElements = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.view(-1);
        for (long first = 0; first < elementCount; first += chunkElements)
        {
            var count = Math.Min(chunkElements, elementCount - first);
            using var chunk = flat.narrow(0, first, count);
            new ReadOnlySpan<byte>(source + (first * elementSize), (int)(count * elementSize)).CopyTo(chunk.bytes);
        }
    }

    private static (List<SafetensorsTensorInfo> Tensors, Dictionary<string, string> Metadata) ParseHeader(
        string path, ReadOnlySpan<byte> header, long dataLength)
    {
        if (!Utf8.IsValid(header))
        {
            throw new ModelLoadException(path, null, "header is not valid UTF-8 JSON: it contains invalid UTF-8 bytes");
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                // Anything but the header padding (spaces) after the object means the header is not one JSON value.
                throw new JsonException($"unexpected data after the JSON object at byte {reader.TokenStartIndex}");
            }
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, null, $"header is not valid UTF-8 JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, null,
                    $"header must be a JSON object mapping tensor names to entries, found a JSON {root.ValueKind}");
            }

            var tensors = new List<SafetensorsTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new ModelLoadException(path, property.Name, "appears twice in the header");
                }

                if (property.Name == "__metadata__")
                {
                    ParseMetadata(path, property.Value, metadata);
                    continue;
                }

                tensors.Add(ParseEntry(path, property.Name, property.Value, dataLength));
            }

            CheckOverlaps(path, tensors);
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException(path, "__metadata__", $"must be an object of strings, found a JSON {value.ValueKind}");
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new ModelLoadException(path, $"__metadata__.{item.Name}",
                    $"metadata values must be strings, found a JSON {item.Value.ValueKind}");
            }

            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException(path, name, $"entry must be an object with dtype, shape and data_offsets, found a JSON {entry.ValueKind}");
        }

        if (!entry.TryGetProperty("dtype", out var dtypeElement))
        {
            throw new ModelLoadException(path, name, "entry has no \"dtype\"");
        }

        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ModelLoadException(path, name, $"\"dtype\" must be a string, found a JSON {dtypeElement.ValueKind}");
        }

        var dtype = dtypeElement.GetString()!;
        var elementSize = SafetensorsDtype.ElementSize(dtype)
            ?? throw new ModelLoadException(path, name, SafetensorsDtype.NotSupportedMessage(dtype));

        if (!entry.TryGetProperty("shape", out var shapeElement))
        {
            throw new ModelLoadException(path, name, "entry has no \"shape\"");
        }

        var shape = ReadNonNegativeLongs(path, name, "shape", shapeElement);

        if (!entry.TryGetProperty("data_offsets", out var offsetsElement))
        {
            throw new ModelLoadException(path, name, "entry has no \"data_offsets\"");
        }

        var offsets = ReadNonNegativeLongs(path, name, "data_offsets", offsetsElement);
        if (offsets.Length != 2)
        {
            throw new ModelLoadException(path, name, $"\"data_offsets\" must be [begin, end], found {offsets.Length} numbers");
        }

        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin)
        {
            throw new ModelLoadException(path, name, $"\"data_offsets\" [{begin}, {end}] end before they begin");
        }

        long expectedBytes;
        try
        {
            expectedBytes = elementSize;
            foreach (var dim in shape)
            {
                expectedBytes = checked(expectedBytes * dim);
            }
        }
        catch (OverflowException ex)
        {
            throw new ModelLoadException(path, name, $"shape {FormatShape(shape)} is too large", ex);
        }

        if (end - begin != expectedBytes)
        {
            throw new ModelLoadException(path, name,
                $"\"data_offsets\" [{begin}, {end}] span {end - begin} bytes but shape {FormatShape(shape)} of {dtype} needs {expectedBytes}");
        }

        if (end > dataLength)
        {
            throw new ModelLoadException(path, name,
                $"file is truncated: tensor {name} needs bytes [{begin},{end}) of the data section but only {dataLength} are present");
        }

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] ReadNonNegativeLongs(string path, string name, string field, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new ModelLoadException(path, name, $"\"{field}\" must be an array of integers, found a JSON {element.ValueKind}");
        }

        var values = new long[element.GetArrayLength()];
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var value) || value < 0)
            {
                throw new ModelLoadException(path, name, $"\"{field}\" must hold non-negative integers, found {item.GetRawText()}");
            }

            values[i++] = value;
        }

        return values;
    }

    private static void CheckOverlaps(string path, List<SafetensorsTensorInfo> tensors)
    {
        var ordered = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataBegin).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            var previous = ordered[i - 1];
            var current = ordered[i];
            if (current.DataBegin < previous.DataEnd)
            {
                throw new ModelLoadException(path, current.Name,
                    $"bytes [{current.DataBegin},{current.DataEnd}) overlap tensor {previous.Name}'s [{previous.DataBegin},{previous.DataEnd})");
            }
        }
    }

    internal static string FormatShape(IReadOnlyList<long> shape) => $"[{string.Join(", ", shape)}]";
}

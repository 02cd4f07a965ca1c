using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Loading;

/// <summary>
/// The weights of a Hugging Face model folder: model.safetensors, or the shards listed by
/// model.safetensors.index.json. Tensors are read by name with the shape the model expects;
/// <see cref="EnsureAllRead"/> then catches checkpoint tensors the model never asked for.
/// Not thread-safe: one loader thread reads a checkpoint.
/// </summary>
public sealed class CheckpointReader : Inference.Worker.Models.IWeightSource, IDisposable
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The sharded checkpoint's index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private const int UnexpectedNamesShown = 10;

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owners;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly IProgress<LoadProgress>? _progress;
    private long _bytesRead;

    private CheckpointReader(
        string weightsFile,
        List<SafetensorsFile> files,
        Dictionary<string, SafetensorsFile> owners,
        IProgress<LoadProgress>? progress)
    {
        WeightsFile = weightsFile;
        _files = files;
        _owners = owners;
        _progress = progress;
        foreach (var (name, file) in owners)
        {
            TotalBytes += file.GetInfo(name).ByteLength;
        }
    }

    /// <summary>model.safetensors or model.safetensors.index.json, whichever was opened.</summary>
    public string WeightsFile { get; }

    /// <summary>Every tensor name in the checkpoint.</summary>
    public IReadOnlyCollection<string> TensorNames => _owners.Keys;

    /// <summary>Bytes of tensor data in the checkpoint, as stored.</summary>
    public long TotalBytes { get; }

    /// <summary>Tensors in the checkpoint.</summary>
    public int TotalTensors => _owners.Count;

    /// <summary>
    /// Opens the weights of <paramref name="modelDir"/>: model.safetensors if present, else the shards of
    /// model.safetensors.index.json. Every shard is mapped and its header validated now.
    /// </summary>
    /// <exception cref="ModelLoadException">No weights file, a malformed index or shard, a missing shard, or a tensor the index lists that its shard lacks.</exception>
    public static CheckpointReader Open(string modelDir, IProgress<LoadProgress>? progress = null)
    {
        var single = Path.Combine(modelDir, SingleFileName);
        if (File.Exists(single))
        {
            var file = SafetensorsFile.Open(single);
            var owners = file.Tensors.ToDictionary(t => t.Name, _ => file, StringComparer.Ordinal);
            return new CheckpointReader(single, [file], owners, progress);
        }

        var index = Path.Combine(modelDir, IndexFileName);
        if (File.Exists(index))
        {
            return OpenSharded(modelDir, index, progress);
        }

        throw new ModelLoadException(modelDir, null, $"no {SingleFileName} or {IndexFileName} in the model folder");
    }

    /// <summary>Whether the checkpoint has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _owners.ContainsKey(name);

    /// <summary>
    /// Reads tensor <paramref name="name"/>, checks it has <paramref name="expectedShape"/>, and returns it
    /// as <paramref name="dtype"/> on <paramref name="device"/>. The caller owns the result; the CPU
    /// staging tensor is disposed here.
    /// </summary>
    /// <exception cref="ModelLoadException">The tensor is missing, has another shape, or an unsupported dtype.</exception>
    public Tensor Read(string name, long[] expectedShape, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(expectedShape);
        ArgumentNullException.ThrowIfNull(device);

        if (!_owners.TryGetValue(name, out var file))
        {
            throw new ModelLoadException(WeightsFile, name,
                $"missing tensor {name} (expected shape {SafetensorsFile.FormatShape(expectedShape)})");
        }

        var info = file.GetInfo(name);
        if (!info.Shape.SequenceEqual(expectedShape))
        {
            throw new ModelLoadException(file.Path, name,
                $"shape {SafetensorsFile.FormatShape(info.Shape)} does not match the expected shape {SafetensorsFile.FormatShape(expectedShape)}");
        }

        var staged = file.ReadTensor(name);
        Tensor result;
        if (staged.dtype == dtype && device.type == DeviceType.CPU)
        {
            result = staged;
        }
        else
        {
            using (staged)
            {
                result = staged.to(dtype, device);
            }
        }

        if (_read.Add(name))
        {
            _bytesRead += info.ByteLength;
        }

        _progress?.Report(new LoadProgress(_bytesRead, TotalBytes, _read.Count, TotalTensors, name));
        return result;
    }

    /// <summary>
    /// Fails if the checkpoint holds tensors that were never read: they mean the folder is a different
    /// architecture or variant than the config says. <c>*.rotary_emb.inv_freq</c> buffers are always ignored.
    /// </summary>
    /// <exception cref="ModelLoadException">Lists the first unexpected names and their count.</exception>
    public void EnsureAllRead(Func<string, bool>? ignore = null)
    {
        var unexpected = _owners.Keys
            .Where(n => !_read.Contains(n)
                && !n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
                && !(ignore?.Invoke(n) ?? false))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (unexpected.Count == 0)
        {
            return;
        }

        var shown = string.Join(", ", unexpected.Take(UnexpectedNamesShown));
        var more = unexpected.Count > UnexpectedNamesShown ? $" and {unexpected.Count - UnexpectedNamesShown} more" : string.Empty;
        throw new ModelLoadException(WeightsFile, null,
            $"{unexpected.Count} unexpected tensor(s) the model does not use: {shown}{more}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var file in _files)
        {
            file.Dispose();
        }
    }

    private static CheckpointReader OpenSharded(string modelDir, string index, IProgress<LoadProgress>? progress)
    {
        var weightMap = ReadWeightMap(index);
        var files = new List<SafetensorsFile>();
        try
        {
            var byShard = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            var owners = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shard) in weightMap)
            {
                if (!byShard.TryGetValue(shard, out var file))
                {
                    var shardPath = Path.Combine(modelDir, shard);
                    if (!File.Exists(shardPath))
                    {
                        throw new ModelLoadException(index, $"weight_map.{tensor}", $"shard {shard} is missing from the model folder");
                    }

                    file = SafetensorsFile.Open(shardPath);
                    files.Add(file);
                    byShard.Add(shard, file);
                }

                if (!file.Contains(tensor))
                {
                    throw new ModelLoadException(file.Path, tensor, $"listed in {IndexFileName} but absent from shard {shard}");
                }

                if (!owners.TryAdd(tensor, file))
                {
                    throw new ModelLoadException(index, $"weight_map.{tensor}", "appears twice");
                }
            }

            return new CheckpointReader(index, files, owners, progress);
        }
        catch
        {
            foreach (var file in files)
            {
                file.Dispose();
            }

            throw;
        }
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string index)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(index));
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {(ex.BytePositionInLine ?? 0) + 1}" : string.Empty;
            throw new ModelLoadException(index, null, $"malformed JSON{where}: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map)
                || map.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(index, "weight_map", "missing; expected an object mapping tensor names to shard files");
            }

            var entries = new List<(string, string)>();
            foreach (var entry in map.EnumerateObject())
            {
                var shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : null;
                // Shards must be plain file names in the folder; anything else could read outside it.
                if (string.IsNullOrEmpty(shard) || shard != Path.GetFileName(shard) || shard is "." or "..")
                {
                    throw new ModelLoadException(index, $"weight_map.{entry.Name}",
                        $"expected a shard file name in the model folder, got {entry.Value.GetRawText()}");
                }

                entries.Add((entry.Name, shard));
            }

            return entries;
        }
    }
}

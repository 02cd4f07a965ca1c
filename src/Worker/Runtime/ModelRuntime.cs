using TorchSharp;
using Inference.Worker.KvCache;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Tokenization;
using static TorchSharp.torch;

namespace Inference.Worker.Runtime;

/// <summary>
/// A loaded model folder: weights on the device, tokenizer, and the preallocated paged KV cache.
/// Owns the model and the cache (Dispose frees device memory).
/// </summary>
public sealed class ModelRuntime : IDisposable
{
    private const long DefaultCpuKvBytes = 1L << 30;

    private ModelRuntime(WorkerOptions options, ModelConfig config, LlamaModel model, ModelTokenizer tokenizer, PagedKvCache cache)
    {
        Options = options;
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Constraints = new Constraints.ConstraintCompiler(tokenizer);
        Cache = cache;
    }

    public WorkerOptions Options { get; }

    public ModelConfig Config { get; }

    public LlamaModel Model { get; }

    public ModelTokenizer Tokenizer { get; }

    public PagedKvCache Cache { get; }

    /// <summary>Grammars compiled against this model's vocabulary, cached by their text (thread-safe).</summary>
    public Constraints.ConstraintCompiler Constraints { get; }

    /// <summary>Token ids that end generation unless a request ignores EOS.</summary>
    public IReadOnlyList<int> EosTokenIds => Tokenizer.EosTokenIds;

    /// <summary>
    /// Loads <see cref="WorkerOptions.ModelDir"/>. Errors in the folder are <see cref="ModelLoadException"/>s
    /// naming the file and field; bad options are ArgumentExceptions naming the option.
    /// </summary>
    public static ModelRuntime Load(WorkerOptions options, IProgress<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Directory.Exists(options.ModelDir))
        {
            throw new ModelLoadException(options.ModelDir, null, "model folder does not exist.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BlockSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxNumBatchedTokens);
        foreach (string entry in options.Device.Split(',', StringSplitOptions.TrimEntries))
        {
            Gpu.DeviceAdmission.EnsureUsable(entry, options.AllowSharedDevice, options.BusyDeviceMemoryFraction, options.NvmlLibrary);
        }

        long? kvBudget = options.KvCacheMemory is null ? null : ByteSize.Parse(options.KvCacheMemory, "--kv-cache-memory");

        ModelConfig config = ModelConfigReader.Read(options.ModelDir);
        PipelineStage[] stages = PipelineOption.Plan(options.Device, options.PipelineLayers, config.NumHiddenLayers);
        ScalarType dtype = DtypeOption.ResolveDtype(options.Dtype, stages[0].Device, config);
        ModelTokenizer tokenizer = ModelTokenizer.Load(options.ModelDir, options.ChatTemplate);
        if (tokenizer.VocabSize > config.VocabSize)
        {
            throw new ModelLoadException(
                Path.Combine(options.ModelDir, "config.json"),
                "vocab_size",
                $"vocab_size {config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize} tokens.");
        }

        int maxModelLength = options.MaxModelLength ?? config.MaxPositionEmbeddings;
        if (maxModelLength < 1)
        {
            throw new ArgumentException($"--max-model-len must be >= 1, got {maxModelLength}.", nameof(options));
        }

        LlamaModel? model = null;
        try
        {
            using (var checkpoint = CheckpointReader.Open(options.ModelDir, progress))
            {
                model = LlamaModel.Load(config, checkpoint, dtype, stages, maxModelLength);
                checkpoint.EnsureAllRead();
            }

            // Each stage sizes its KV blocks from its own device's budget (--kv-cache-memory is per device; stages
            // sharing a device, as cpu,cpu does, share it in proportion to their layers, so such a split holds as many
            // blocks as the unsplit model); the cache then takes the fewest blocks any stage can hold, so one block
            // id is valid on every stage.
            var budgets = new long[stages.Length];
            for (int s = 0; s < stages.Length; s++)
            {
                Device device = stages[s].Device;
                long budget = (kvBudget ?? DefaultKvBudget(device, options)) * stages[s].NumLayers / LayersOn(stages, device);
                if (kvBudget is null && device.type != DeviceType.CUDA)
                {
                    // On CPU, never reserve more than 64 full-length sequences need: a 1 GiB zero-fill for a
                    // tiny model only costs start-up time.
                    long perToken = PagedKvCache.BytesPerBlockFor(stages[s].NumLayers, 1, config.NumKeyValueHeads, config.HeadDim, dtype);
                    budget = Math.Min(budget, 64L * (maxModelLength + options.BlockSize) * perToken);
                }

                budgets[s] = budget;
            }

            PagedKvCache cache = PagedKvCache.Create(
                stages, config.NumKeyValueHeads, config.HeadDim, dtype, budgets, options.BlockSize);
            return new ModelRuntime(options, config, model, tokenizer, cache);
        }
        catch
        {
            model?.Dispose();
            throw;
        }
    }

    // Decoder layers of every stage on this device (cpu,cpu and cuda:0,cuda:0 put several stages on one).
    private static int LayersOn(PipelineStage[] stages, Device device)
    {
        int layers = 0;
        foreach (PipelineStage stage in stages)
        {
            if (stage.Device.type == device.type && (device.type == DeviceType.CPU || stage.Device.index == device.index))
            {
                layers += stage.NumLayers;
            }
        }

        return layers;
    }

    private static long DefaultKvBudget(Device device, WorkerOptions options)
    {
        double utilization = options.GpuMemoryUtilization;
        if (device.type != DeviceType.CUDA)
        {
            return DefaultCpuKvBytes;
        }

        // NVML first: it asks about this stage's device by index, the CUDA driver's query is the fallback.
        if (!Gpu.NvmlFreeMemory.TryGet(PipelineStage.DeviceName(device), options.NvmlLibrary, out long free) && !CudaMemory.TryGetInfo(device.index, out free, out _))
        {
            throw new ArgumentException($"Could not query free memory of {PipelineStage.DeviceName(device)}; pass --kv-cache-memory explicitly.", nameof(device));
        }

        return (long)(free * utilization);
    }

    public void Dispose()
    {
        Cache.Dispose();
        Model.Dispose();
    }
}

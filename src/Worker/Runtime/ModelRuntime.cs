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
        Gpu.DeviceAdmission.EnsureUsable(options.Device, options.AllowSharedDevice, options.BusyDeviceMemoryFraction, options.NvmlLibrary);
        Device device = DeviceOption.Parse(options.Device);
        long? kvBudget = options.KvCacheMemory is null ? null : ByteSize.Parse(options.KvCacheMemory, "--kv-cache-memory");

        ModelConfig config = ModelConfigReader.Read(options.ModelDir);
        ScalarType dtype = DtypeOption.ResolveDtype(options.Dtype, device, config);
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
                model = LlamaModel.Load(config, checkpoint, dtype, device, maxModelLength);
                checkpoint.EnsureAllRead();
            }

            long budget = kvBudget ?? DefaultKvBudget(device, options);
            if (kvBudget is null && device.type != DeviceType.CUDA)
            {
                // On CPU, never reserve more than 64 full-length sequences need: a 1 GiB zero-fill for a
                // tiny model only costs start-up time.
                long perToken = PagedKvCache.BytesPerBlockFor(config.NumHiddenLayers, 1, config.NumKeyValueHeads, config.HeadDim, dtype);
                budget = Math.Min(budget, 64L * (maxModelLength + options.BlockSize) * perToken);
            }

            PagedKvCache cache = PagedKvCache.Create(
                config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, dtype, device, budget, options.BlockSize);
            return new ModelRuntime(options, config, model, tokenizer, cache);
        }
        catch
        {
            model?.Dispose();
            throw;
        }
    }

    private static long DefaultKvBudget(Device device, WorkerOptions options)
    {
        double utilization = options.GpuMemoryUtilization;
        if (device.type != DeviceType.CUDA)
        {
            return DefaultCpuKvBytes;
        }

        // NVML first: it asks about the pinned device, where cuMemGetInfo asks about the thread's current context,
        // which libtorch's device guards leave on device 0 when the model lives on cuda:N.
        if (!Gpu.NvmlFreeMemory.TryGet(options.Device, options.NvmlLibrary, out long free) && !CudaMemory.TryGetInfo(out free, out _))
        {
            throw new ArgumentException("Could not query free CUDA memory; pass --kv-cache-memory explicitly.", nameof(device));
        }

        return (long)(free * utilization);
    }

    public void Dispose()
    {
        Cache.Dispose();
        Model.Dispose();
    }
}

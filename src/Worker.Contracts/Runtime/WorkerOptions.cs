namespace Inference.Worker.Runtime;

/// <summary>How a worker loads and runs one model. Validated by <see cref="ModelRuntime.Load"/>.</summary>
public sealed record WorkerOptions
{
    /// <summary>Hugging Face model folder (config.json, safetensors, tokenizer files).</summary>
    public required string ModelDir { get; init; }

    /// <summary>cpu, cuda or cuda:N; a list (cuda:0,cuda:1, or cpu,cpu) splits the decoder layers into one pipeline stage per entry.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Decoder layers per pipeline stage (e.g. 12,20), one count per <see cref="Device"/> entry; null: an even split.</summary>
    public string? PipelineLayers { get; init; }

    /// <summary>auto, float32, float16 or bfloat16 (auto: float32 on CPU, bfloat16 on CUDA).</summary>
    public string Dtype { get; init; } = "auto";

    /// <summary>KV cache budget per device (e.g. 2GiB). Null: 1 GiB on CPU, <see cref="GpuMemoryUtilization"/> of free memory on CUDA.</summary>
    public string? KvCacheMemory { get; init; }

    /// <summary>Fraction of free device memory the KV cache may take on CUDA when no budget is given.</summary>
    public double GpuMemoryUtilization { get; init; } = 0.9;

    /// <summary>Tokens per KV block.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Longest prompt + output; defaults to max_position_embeddings.</summary>
    public int? MaxModelLength { get; init; }

    /// <summary>Most tokens (decodes plus prefill chunks) per forward step.</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Chat template name (llama2, llama3, chatml, mistral) overriding detection.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Start on a CUDA device even when other processes use it or its memory is taken (Gpu.DeviceAdmission).</summary>
    public bool AllowSharedDevice { get; init; }

    /// <summary>A CUDA device with more than this fraction of its memory in use counts as busy.</summary>
    public double BusyDeviceMemoryFraction { get; init; } = 0.1;

    /// <summary>libnvidia-ml for the device check and GPU telemetry; null: $INFERENCE_NVML_LIBRARY, else libnvidia-ml.so.1.</summary>
    public string? NvmlLibrary { get; init; }
}

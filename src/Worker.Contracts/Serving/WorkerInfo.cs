using Inference.Scheduler;

namespace Inference.Worker.Serving;

/// <summary>What a worker serves: the facts the gateway needs to validate and route a request.</summary>
public sealed record WorkerInfo
{
    /// <summary>The served model name (the id clients put in "model").</summary>
    public required string Model { get; init; }

    /// <summary>Longest prompt + output, in tokens.</summary>
    public required int MaxModelLength { get; init; }

    /// <summary>Token ids are valid in [0, VocabSize).</summary>
    public required int VocabSize { get; init; }

    public required string Device { get; init; }

    /// <summary>The pipeline stages when the layers are split across devices ("cuda:0 layers 0-15; cuda:1 layers 16-31"); null when unsplit.</summary>
    public string? Pipeline { get; init; }

    public required int BlockSize { get; init; }

    public required int KvBlocksTotal { get; init; }

    /// <summary>Most KV blocks one request can hold (the cache less the scheduler's watermark); 0 means <see cref="KvBlocksTotal"/>.</summary>
    public int AdmissibleKvBlocks { get; init; }

    /// <summary>The worker's admission rule, so the gateway refuses before admission exactly what the engine would.</summary>
    public AdmissionRule Admission => new(MaxModelLength, BlockSize, AdmissibleKvBlocks > 0 ? AdmissibleKvBlocks : KvBlocksTotal);

    /// <summary>Name of the chat template, or null when the model has none (chat requests are refused).</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Unix seconds when the model was loaded (the "created" of /v1/models).</summary>
    public long Created { get; init; }
}

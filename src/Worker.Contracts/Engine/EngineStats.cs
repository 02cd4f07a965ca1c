using Inference.Worker.Gpu;

namespace Inference.Worker.Engine;

/// <summary>A snapshot of the engine for routing and metrics, published by the loop after every step.</summary>
public sealed record EngineStats
{
    public int WaitingInteractive { get; init; }
    public int WaitingStandard { get; init; }
    public int WaitingBatch { get; init; }
    public int Running { get; init; }

    /// <summary>Requests accepted and not yet finished (queued for intake, waiting, running or draining).</summary>
    public int LiveRequests { get; init; }
    public int KvBlocksUsed { get; init; }
    public int KvBlocksTotal { get; init; }
    public int KvBlocksCached { get; init; }
    public long PrefixCacheHitTokens { get; init; }
    public long PrefixCacheQueryTokens { get; init; }
    public long Preemptions { get; init; }
    public long Steps { get; init; }
    public long GeneratedTokens { get; init; }
    public long PromptTokensComputed { get; init; }

    /// <summary>Last step's split, microseconds.</summary>
    public double PlanMicros { get; init; }
    public double ForwardMicros { get; init; }
    public double SampleMicros { get; init; }

    /// <summary>Sequences with engine state, and rows of the sampling batch in use (both zero when idle).</summary>
    public int TrackedSequences { get; init; }
    public int SamplingRows { get; init; }

    /// <summary>
    /// The worker's GPU telemetry: null from the loop itself and on the CPU; the worker host adds its sampler's
    /// latest sample when it publishes stats.
    /// </summary>
    public GpuTelemetry? Gpu { get; init; }
}

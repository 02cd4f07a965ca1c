namespace Inference.Gateway.Api;

/// <summary>Caps on request shape, checked before admission (part of GatewayOptions).</summary>
public sealed record ApiLimits
{
    /// <summary>Largest accepted request body.</summary>
    public long MaxBodyBytes { get; init; } = 4 * 1024 * 1024;

    public int MaxN { get; init; } = 16;

    public int MaxStopSequences { get; init; } = 16;

    public int MaxStopLength { get; init; } = 256;

    public int MaxLogprobs { get; init; } = 20;

    /// <summary>Most prompts in one completions request.</summary>
    public int MaxPrompts { get; init; } = 64;

    public int MaxStopTokenIds { get; init; } = 64;

    public int MaxLogitBias { get; init; } = 300;
}

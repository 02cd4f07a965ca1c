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

    /// <summary>
    /// Slowest accepted request body, in bytes per second averaged since the first byte (Kestrel's
    /// MinRequestBodyDataRate, checked once a second): a body that falls below it after
    /// <see cref="BodyGracePeriod"/>, or stalls, is answered 408. 0 turns the check off.
    /// </summary>
    public double MinBodyBytesPerSecond { get; init; } = 240;

    /// <summary>How long a body may arrive below <see cref="MinBodyBytesPerSecond"/> before it is refused (more than 1 s).</summary>
    public TimeSpan BodyGracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}

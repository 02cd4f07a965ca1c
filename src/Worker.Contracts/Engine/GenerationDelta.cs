using Inference.Scheduler;
using Inference.Worker.Runtime;

namespace Inference.Worker.Engine;

/// <summary>
/// What a reader of a request gets, in order: text deltas per choice (with the token they came from),
/// each choice's finish reason, and last, exactly once, the usage.
/// </summary>
public sealed record GenerationDelta
{
    /// <summary>Choice index (0..n-1), or -1 for request-level deltas (error, usage).</summary>
    public int Choice { get; init; }

    /// <summary>New text; never splits a character and never contains (or runs past) a stop string.</summary>
    public string Text { get; init; } = string.Empty;

    /// <summary>The sampled token, or -1 when the delta carries no token.</summary>
    public int TokenId { get; init; } = -1;

    public float Logprob { get; init; } = float.NaN;

    public TokenLogprob[]? TopLogprobs { get; init; }

    /// <summary>Set on a choice's last delta.</summary>
    public FinishReason FinishReason { get; init; }

    /// <summary>The stop string that ended the choice, if one did.</summary>
    public string? StopString { get; init; }

    public string? Error { get; init; }

    public RequestUsage? Usage { get; init; }

    /// <summary>Engine timestamp (TimeProvider ticks) of the token.</summary>
    public long Timestamp { get; init; }
}

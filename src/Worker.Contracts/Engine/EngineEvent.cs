using Inference.Scheduler;
using Inference.Worker.Runtime;

namespace Inference.Worker.Engine;

/// <summary>
/// What the engine loop sends a request's reader: one sampled token of one choice, a choice's end, an
/// error, or (last, exactly once) the request's usage.
/// Text is produced on the reader side (<see cref="GenerationStream"/>), never on the loop thread.
/// </summary>
public readonly record struct EngineEvent(
    int Choice,
    int TokenId,
    float Logprob,
    TokenLogprob[]? TopLogprobs,
    FinishReason Finish,
    long Timestamp,
    string? Error = null,
    RequestUsage? Usage = null)
{
    /// <summary>True when this event carries a token (false for a bare finish or error).</summary>
    public bool HasToken => TokenId >= 0;
}

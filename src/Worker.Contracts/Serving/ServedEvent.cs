using Inference.Scheduler;
using Inference.Worker.Engine;

namespace Inference.Worker.Serving;

/// <summary>One token's identity and logprob as clients see it: text and raw bytes of the single token.</summary>
public sealed record ServedToken(int TokenId, string Text, byte[] Bytes, float Logprob);

/// <summary>
/// One event of a served request, the same whether the worker is in-process or behind gRPC. In order:
/// text deltas per choice, each choice's finish, then (exactly once, last) the usage. A request-level
/// failure is an event with Choice -1 and <see cref="Error"/> set, followed by the usage.
/// </summary>
public sealed record ServedEvent
{
    /// <summary>Choice index (0..n-1), or -1 for request-level events (error, usage).</summary>
    public int Choice { get; init; }

    public string Text { get; init; } = string.Empty;

    /// <summary>The sampled token (with its text, bytes and logprob when logprobs were asked for), or null.</summary>
    public int TokenId { get; init; } = -1;

    /// <summary>Set only when logprobs were requested.</summary>
    public ServedToken? Sampled { get; init; }

    /// <summary>Top alternatives (most likely first), only when logprobs were requested.</summary>
    public IReadOnlyList<ServedToken>? TopLogprobs { get; init; }

    public FinishReason Finish { get; init; }

    public string? StopString { get; init; }

    public string? Error { get; init; }

    public RequestUsage? Usage { get; init; }
}

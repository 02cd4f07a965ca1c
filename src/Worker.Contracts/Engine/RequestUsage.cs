namespace Inference.Worker.Engine;

/// <summary>Token counts and latencies of a finished request, reported exactly once.</summary>
public sealed record RequestUsage
{
    public int PromptTokens { get; init; }

    /// <summary>Tokens generated across all choices.</summary>
    public int CompletionTokens { get; init; }

    /// <summary>Prompt tokens served from the prefix cache.</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>Submission to first scheduled step.</summary>
    public TimeSpan QueueTime { get; init; }

    /// <summary>Submission to first token.</summary>
    public TimeSpan TimeToFirstToken { get; init; }

    /// <summary>Submission to the end.</summary>
    public TimeSpan Total { get; init; }

    public int Preemptions { get; init; }
}

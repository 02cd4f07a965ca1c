namespace Inference.Scheduler;

/// <summary>What the scheduler needs to know about a request. Immutable once submitted.</summary>
public sealed record SchedulerRequest
{
    /// <summary>Unique id (the API's request id); used to abort.</summary>
    public required string RequestId { get; init; }

    public required IReadOnlyList<int> PromptTokens { get; init; }

    /// <summary>Most tokens the request may generate (its KV need is bounded by prompt + this).</summary>
    public int MaxTokens { get; init; } = 16;

    public PriorityClass Class { get; init; } = PriorityClass.Standard;

    /// <summary>Order within a class: lower runs first (vLLM's convention). Default 0.</summary>
    public int Priority { get; init; }

    /// <summary>Fairness and prefix-cache isolation domain (organisation or API key owner).</summary>
    public string Tenant { get; init; } = "default";

    /// <summary>Number of completions sharing this prompt (n); the prompt's blocks are computed once.</summary>
    public int N { get; init; } = 1;
}

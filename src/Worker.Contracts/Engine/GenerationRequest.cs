using Inference.Scheduler;
using Inference.Worker.Sampling;

namespace Inference.Worker.Engine;

/// <summary>A tokenized request as the engine takes it.</summary>
public sealed record GenerationRequest
{
    public required string RequestId { get; init; }

    public required IReadOnlyList<int> PromptTokens { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    public PriorityClass Class { get; init; } = PriorityClass.Standard;

    /// <summary>Lower runs first within a class.</summary>
    public int Priority { get; init; }

    public string Tenant { get; init; } = "default";

    /// <summary>Completions to generate from the prompt (n).</summary>
    public int N { get; init; } = 1;

    /// <summary>Strings that end a completion; the text is cut before them and never streams past them.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>
    /// A GBNF grammar (root rule <c>root</c>) every choice's output must match; null: unconstrained. Compiled once
    /// per distinct text against the vocabulary; a choice whose output is a complete match with nothing allowed
    /// after it finishes with stop.
    /// </summary>
    public string? Grammar { get; init; }
}

using Inference.Worker.Tokenization;

namespace Inference.Gateway.Api;

/// <summary>Which OpenAI endpoint shape a request has.</summary>
public enum ApiKind
{
    Completion,
    Chat,
}

/// <summary>One completions prompt: text or token ids.</summary>
public sealed record PromptInput(string? Text, IReadOnlyList<int>? TokenIds);

/// <summary>
/// A validated request, the same for HTTP and gRPC: everything that decides the output plus how to
/// deliver it. Field names follow OpenAI (and vLLM for the extensions).
/// </summary>
public sealed record InferenceRequest
{
    public required ApiKind Kind { get; init; }

    public required string Model { get; init; }

    /// <summary>Completions: one or more prompts (each yields n choices).</summary>
    public IReadOnlyList<PromptInput> Prompts { get; init; } = [];

    /// <summary>Chat: the conversation.</summary>
    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];

    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>Null: fill the context (max_model_len - prompt).</summary>
    public int? MaxTokens { get; init; }

    public float Temperature { get; init; } = 1f;

    public float TopP { get; init; } = 1f;

    public int TopK { get; init; }

    public float MinP { get; init; }

    public float PresencePenalty { get; init; }

    public float FrequencyPenalty { get; init; }

    public float RepetitionPenalty { get; init; } = 1f;

    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    public long? Seed { get; init; }

    public int N { get; init; } = 1;

    public IReadOnlyList<string> Stop { get; init; } = [];

    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public bool IgnoreEos { get; init; }

    public int MinTokens { get; init; }

    /// <summary>vLLM's priority: lower runs first within the caller's class.</summary>
    public int Priority { get; init; }

    /// <summary>Completions: top-N logprobs per token (0 = only the sampled token's); chat: top_logprobs when logprobs is on.</summary>
    public int? Logprobs { get; init; }

    public bool Echo { get; init; }

    /// <summary>The end user (safety_identifier, or its older name user): written to the usage record.</summary>
    public string? User { get; init; }

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    /// <summary>return_timings: the response carries this request's queue time, TTFT, mean ITL and latency.</summary>
    public bool ReturnTimings { get; init; }

    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>Functions the template shows the model (chat); null: none.</summary>
    public IReadOnlyList<Worker.Tokenization.ChatTool>? Tools { get; init; }

    /// <summary>How the output relates to the tools: plain text, the model's own call format, or forced calls.</summary>
    public ToolMode ToolMode { get; init; }

    /// <summary>The function a named tool_choice calls.</summary>
    public string? ToolName { get; init; }

    /// <summary>The GBNF grammar the output must match (from response_format or structured_outputs); null: none.</summary>
    public string? Grammar { get; init; }

    /// <summary>Same request, same output: greedy or seeded. Only these are cached.</summary>
    public bool IsDeterministic => Temperature == 0f || Seed is not null;
}

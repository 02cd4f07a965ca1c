namespace Inference.LoadGen.Serving;

/// <summary>One request of a dataset: the prompt (sent as a completion prompt or a single user message), its length in
/// the benchmark tokenizer's tokens, and how many tokens to ask for.</summary>
public sealed record BenchRequest(string Prompt, int PromptTokens, int MaxTokens)
{
    /// <summary>Sent as the system message of a chat request (shared-prefix dataset on a chat endpoint); null: none.</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>The API key sent with this request; null: the run's key.</summary>
    public string? ApiKey { get; init; }
}

using Inference.Gateway.Api;
using Inference.Worker.Serving;

namespace Inference.Gateway.Serving;

/// <summary>A request after authentication, validation and tokenization: ready to admit and run.</summary>
public sealed record PreparedRequest
{
    public required InferenceRequest Request { get; init; }

    public required CallerContext Caller { get; init; }

    public required WorkerInfo Model { get; init; }

    /// <summary>"cmpl-…" or "chatcmpl-…", the same in every chunk.</summary>
    public required string Id { get; init; }

    /// <summary>Unix seconds.</summary>
    public required long Created { get; init; }

    /// <summary>Token ids per prompt (chat: one, the rendered conversation).</summary>
    public required IReadOnlyList<int[]> PromptIds { get; init; }

    /// <summary>Prompt text per prompt, for echo (decoded when the prompt was token ids).</summary>
    public IReadOnlyList<string>? PromptTexts { get; init; }

    /// <summary>
    /// The prompt text that precedes choice <paramref name="choice"/>'s completion when echo is on (both APIs send it
    /// in the choice's first delta), else null. Choices are numbered prompt-major: prompt = choice / n.
    /// </summary>
    public string? EchoFor(int choice) => Request.Echo && PromptTexts is { } texts ? texts[choice / Request.N] : null;

    /// <summary>max_tokens per prompt after defaulting (fill the context when not given).</summary>
    public required IReadOnlyList<int> MaxTokens { get; init; }

    /// <summary>Prompt tokens + max_tokens over all prompts and choices: what admission reserves.</summary>
    public long ReservedTokens
    {
        get
        {
            long total = 0;
            for (int i = 0; i < PromptIds.Count; i++)
            {
                total += PromptIds[i].Length + ((long)MaxTokens[i] * Request.N);
            }

            return total;
        }
    }

    public int PromptTokenCount => PromptIds.Sum(p => p.Length);

    /// <summary>The response-cache key, or null when the request must not be cached.</summary>
    public string? CacheKey { get; init; }
}

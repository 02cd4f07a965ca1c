namespace Inference.Worker.Sampling;

/// <summary>
/// Per-request sampling settings, OpenAI/vLLM semantics. Defaults mean "off": temperature 1,
/// top_k 0 (all), top_p 1, min_p 0, no penalties. Temperature 0 means greedy.
/// </summary>
public sealed record SamplingParams
{
    public static SamplingParams Greedy { get; } = new() { Temperature = 0 };

    public float Temperature { get; init; } = 1f;

    /// <summary>Keep the k most likely tokens; 0 or less keeps all.</summary>
    public int TopK { get; init; }

    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below min_p times the most likely token's.</summary>
    public float MinP { get; init; }

    /// <summary>Divides positive logits (multiplies negative ones) of tokens seen in prompt or output; 1 is off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted once from the logit of every token already generated.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Subtracted per occurrence from the logit of every token already generated.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Added to the logits of the given token ids before sampling.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Same seed and same request give the same tokens, whatever else shares the batch.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Number of top alternatives to return with each token's logprob; null returns no logprobs.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Token ids that end generation (in addition to the model's EOS unless <see cref="IgnoreEos"/>).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public int MaxTokens { get; init; } = 16;

    public bool IgnoreEos { get; init; }

    /// <summary>
    /// EOS and stop token ids cannot end a choice before this many tokens were generated (vLLM's
    /// min_tokens): until then their logits are -inf (EOS even with <see cref="IgnoreEos"/>), and stop
    /// strings are not matched. 0 is off; at most <see cref="MaxTokens"/>.
    /// </summary>
    public int MinTokens { get; init; }

    public bool IsGreedy => Temperature <= 0f;

    internal bool HasPenalties => RepetitionPenalty != 1f || PresencePenalty != 0f || FrequencyPenalty != 0f;

    internal bool NeedsSortedFilter => TopK > 0 || TopP < 1f;

    /// <summary>Checks ranges (as vLLM does); throws <see cref="InvalidParameterException"/> naming the parameter.</summary>
    public void Validate(int vocabSize)
    {
        if (!float.IsFinite(Temperature) || Temperature < 0f)
        {
            throw new InvalidParameterException("temperature", $"temperature must be a finite number >= 0, got {Temperature}.");
        }

        if (!(TopP > 0f && TopP <= 1f))
        {
            throw new InvalidParameterException("top_p", $"top_p must be in (0, 1], got {TopP}.");
        }

        if (!(MinP >= 0f && MinP <= 1f))
        {
            throw new InvalidParameterException("min_p", $"min_p must be in [0, 1], got {MinP}.");
        }

        if (!(RepetitionPenalty > 0f && float.IsFinite(RepetitionPenalty)))
        {
            throw new InvalidParameterException("repetition_penalty", $"repetition_penalty must be > 0, got {RepetitionPenalty}.");
        }

        if (!(PresencePenalty >= -2f && PresencePenalty <= 2f))
        {
            throw new InvalidParameterException("presence_penalty", $"presence_penalty must be in [-2, 2], got {PresencePenalty}.");
        }

        if (!(FrequencyPenalty >= -2f && FrequencyPenalty <= 2f))
        {
            throw new InvalidParameterException("frequency_penalty", $"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}.");
        }

        if (MaxTokens < 1)
        {
            throw new InvalidParameterException("max_tokens", $"max_tokens must be >= 1, got {MaxTokens}.");
        }

        if (MinTokens < 0)
        {
            throw new InvalidParameterException("min_tokens", $"min_tokens must be >= 0, got {MinTokens}.");
        }

        if (MinTokens > MaxTokens)
        {
            throw new InvalidParameterException("min_tokens", $"min_tokens must be <= max_tokens ({MaxTokens}), got {MinTokens}.");
        }

        if (Logprobs is < 0 or > 20)
        {
            throw new InvalidParameterException("logprobs", $"logprobs must be in [0, 20], got {Logprobs}.");
        }

        if (LogitBias is not null)
        {
            foreach ((int token, float bias) in LogitBias)
            {
                if ((uint)token >= (uint)vocabSize)
                {
                    throw new InvalidParameterException("logit_bias", $"logit_bias token id {token} is outside the vocabulary [0, {vocabSize}).");
                }

                if (!(bias >= -100f && bias <= 100f))
                {
                    throw new InvalidParameterException("logit_bias", $"logit_bias for token {token} must be in [-100, 100], got {bias}.");
                }
            }
        }

        foreach (int token in StopTokenIds)
        {
            if ((uint)token >= (uint)vocabSize)
            {
                throw new InvalidParameterException("stop_token_ids", $"stop_token_ids entry {token} is outside the vocabulary [0, {vocabSize}).");
            }
        }
    }
}

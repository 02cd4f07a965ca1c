namespace Inference.Scheduler;

/// <summary>
/// The one rule for whether a request can ever run on a worker: prompt + max_tokens within the model's
/// context, and its blocks within what the scheduler would ever give one sequence (all blocks but the
/// watermark). The engine applies it at submit and the scheduler at admission, so a request accepted at
/// the door is never refused later. Immutable: safe to call from any thread.
/// </summary>
public sealed class AdmissionRule
{
    public AdmissionRule(int maxModelLength, int blockSize, int admissibleBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxModelLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(admissibleBlocks);
        MaxModelLength = maxModelLength;
        BlockSize = blockSize;
        AdmissibleBlocks = admissibleBlocks;
    }

    /// <summary>Most prompt + output tokens of one sequence (the model's context).</summary>
    public int MaxModelLength { get; }

    public int BlockSize { get; }

    /// <summary>Most KV blocks one sequence can hold: the cache less the admission watermark.</summary>
    public int AdmissibleBlocks { get; }

    /// <summary>Most prompt + output tokens one request can have here (context and cache together).</summary>
    public long MaxTokensPerSequence => Math.Min(MaxModelLength, (long)AdmissibleBlocks * BlockSize);

    /// <summary>
    /// The max_tokens a request without one gets: the rest of what one sequence may hold. Null and a refusal
    /// when the prompt alone leaves no room.
    /// </summary>
    public int? DefaultMaxTokens(int promptTokens, string where, out Refusal? refusal)
    {
        long room = MaxTokensPerSequence - promptTokens;
        if (room < 1)
        {
            refusal = Refusal.Invalid(
                where,
                $"This model's maximum context length is {MaxTokensPerSequence} tokens. However, your {where} has {promptTokens} tokens, leaving no room for the completion.",
                "context_length_exceeded");
            return null;
        }

        refusal = null;
        return (int)room;
    }

    /// <summary>
    /// Null when the request can run; otherwise the refusal, in OpenAI's wording with both numbers.
    /// <paramref name="where"/> names the prompt for the message ("prompt", "messages"); a request too long
    /// for the context or the cache is refused naming <paramref name="lengthParam"/>.
    /// </summary>
    public Refusal? Check(int promptTokens, int maxTokens, string where = "prompt", string lengthParam = "max_tokens")
    {
        if (promptTokens <= 0)
        {
            return Refusal.Invalid(where, $"the {where} is empty");
        }

        if (maxTokens < 1)
        {
            return Refusal.Invalid("max_tokens", $"max_tokens must be at least 1, got {maxTokens}");
        }

        long total = (long)promptTokens + maxTokens;
        if (total > MaxModelLength)
        {
            return Refusal.Invalid(
                lengthParam,
                $"This model's maximum context length is {MaxModelLength} tokens. However, you requested {total} tokens ({promptTokens} in the {where}, {maxTokens} in the completion). Please reduce the length of the {where} or completion.",
                "context_length_exceeded");
        }

        long blocks = (total + BlockSize - 1) / BlockSize;
        if (blocks > AdmissibleBlocks)
        {
            return Refusal.Invalid(
                lengthParam,
                $"This worker holds at most {(long)AdmissibleBlocks * BlockSize} tokens per request in its KV cache ({AdmissibleBlocks} blocks of {BlockSize}: the cache less its admission watermark). However, you requested {total} tokens ({promptTokens} in the {where}, {maxTokens} in the completion), {blocks} blocks. Please reduce the length of the {where} or completion.",
                "context_length_exceeded");
        }

        return null;
    }
}

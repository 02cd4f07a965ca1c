using Inference.Scheduler;
using Inference.Worker.Sampling;

namespace Inference.Worker.Runtime;

/// <summary>
/// One request's state inside the runtime: its tokens (prompt then output), how many of them are in
/// the KV cache, and the block table holding them.
/// </summary>
public sealed class GenerationSequence
{
    private readonly List<int> _tokens;
    private readonly List<int> _output = [];

    public GenerationSequence(long id, IReadOnlyList<int> promptTokens, SamplingParams parameters)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ArgumentNullException.ThrowIfNull(parameters);
        if (promptTokens.Count == 0)
        {
            throw new ArgumentException("A prompt needs at least one token.", nameof(promptTokens));
        }

        Id = id;
        _tokens = [.. promptTokens];
        PromptTokens = promptTokens;
        Params = parameters;
    }

    public long Id { get; }

    public SamplingParams Params { get; }

    public IReadOnlyList<int> PromptTokens { get; }

    /// <summary>Prompt followed by generated tokens.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public IReadOnlyList<int> OutputTokens => _output;

    /// <summary>Generated tokens with their logprobs, in order.</summary>
    public List<GeneratedToken> Generated { get; } = [];

    /// <summary>Tokens whose K/V are in the cache.</summary>
    public int NumComputed { get; internal set; }

    /// <summary>KV blocks in position order.</summary>
    public List<int> BlockTable { get; } = [];

    public FinishReason FinishReason { get; internal set; }

    public bool IsFinished => FinishReason != FinishReason.None;

    internal List<int> TokenList => _tokens;

    internal void Append(int token)
    {
        _tokens.Add(token);
        _output.Add(token);
    }
}

using Inference.Scheduler;
using System.Runtime.InteropServices;
using Inference.Scheduler.KvCache;
using Inference.Worker.KvCache;
using Inference.Worker.Models;
using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Worker.Runtime;

/// <summary>
/// Runs steps over a set of sequences: each step decodes one token for every sequence past its prompt
/// and spends the rest of the token budget on prompt chunks (chunked prefill), all in one forward.
/// This is the runtime's own minimal planner (first come, first served, no preemption); the
/// scheduler replaces the planning, not the step. Not thread-safe: one thread drives it.
/// </summary>
public sealed class Generator
{
    private readonly LlamaModel _model;
    private readonly PagedKvCache _cache;
    private readonly BlockPool _blocks;
    private readonly Sampler _sampler;
    private readonly SampleResult _sampleResult = new();
    private readonly ForwardBatch _batch;
    private readonly List<GenerationSequence> _sampling = [];
    private readonly List<SampleRequest> _requests = [];
    private readonly IReadOnlyList<int> _eosTokenIds;
    private readonly Random _random;

    public Generator(LlamaModel model, PagedKvCache cache, IReadOnlyList<int> eosTokenIds, Random random, int maxBatchedTokens = 512)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchedTokens);
        _model = model;
        _cache = cache;
        _blocks = new BlockPool(cache.NumBlocks);
        _batch = new ForwardBatch { BlockSize = cache.BlockSize };
        _eosTokenIds = eosTokenIds;
        _sampler = new Sampler(eosTokenIds);
        _random = random;
        MaxBatchedTokens = maxBatchedTokens;
    }

    /// <summary>Most tokens (decodes plus prefill chunks) in one forward.</summary>
    public int MaxBatchedTokens { get; }

    /// <summary>KV blocks currently held by sequences.</summary>
    public int UsedBlocks => _blocks.UsedCount;

    /// <summary>Number of forward steps run so far.</summary>
    public long Steps { get; private set; }

    /// <summary>
    /// Runs one step over the unfinished <paramref name="sequences"/> (decodes first, then prompt
    /// chunks in list order). Returns the number of tokens the forward processed (0 when nothing ran).
    /// Finished sequences release their blocks before this returns.
    /// </summary>
    public int Step(IReadOnlyList<GenerationSequence> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        _batch.Clear();
        _sampling.Clear();
        _requests.Clear();
        int budget = MaxBatchedTokens;

        // Decodes first: a running sequence never waits behind a prompt (stall-free batching).
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (GenerationSequence seq in sequences)
            {
                if (seq.IsFinished || budget == 0)
                {
                    continue;
                }

                int pending = seq.Tokens.Count - seq.NumComputed;
                if (pending == 0)
                {
                    continue; // already scheduled by the decode pass of this step
                }

                bool isDecode = pending == 1 && seq.NumComputed >= seq.PromptTokens.Count;
                if (isDecode != (pass == 0))
                {
                    continue;
                }

                int chunk = Math.Min(pending, budget);
                EnsureBlocks(seq, seq.NumComputed + chunk);
                bool completes = seq.NumComputed + chunk == seq.Tokens.Count;
                _batch.Add(CollectionsMarshal.AsSpan(seq.TokenList).Slice(seq.NumComputed, chunk), seq.NumComputed, seq.BlockTable, completes);
                seq.NumComputed += chunk;
                budget -= chunk;
                if (completes)
                {
                    _sampling.Add(seq);
                }
            }
        }

        if (_batch.NumSequences == 0)
        {
            return 0;
        }

        using (var scope = NewDisposeScope())
        using (inference_mode())
        {
            Tensor logits = _model.Forward(_batch, _cache);
            foreach (GenerationSequence seq in _sampling)
            {
                SamplingParams p = seq.Params;
                double u = p.IsGreedy ? 0 : p.Seed is ulong seed ? SeededUniform.At(seed, seq.OutputTokens.Count) : _random.NextDouble();
                _requests.Add(new SampleRequest(p, seq.PromptTokens, seq.OutputTokens, u, seq.OutputTokens.Count < p.MinTokens));
            }

            if (_requests.Count > 0)
            {
                _sampler.Sample(logits, _requests, _sampleResult);
            }
        }

        Steps++;
        for (int i = 0; i < _sampling.Count; i++)
        {
            Accept(_sampling[i], i);
        }

        return _batch.NumTokens;
    }

    /// <summary>Marks a sequence aborted and frees its blocks at once.</summary>
    public void Abort(GenerationSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (!sequence.IsFinished)
        {
            Finish(sequence, FinishReason.Abort);
        }
    }

    /// <summary>Runs steps until every sequence finishes.</summary>
    public void RunToCompletion(IReadOnlyList<GenerationSequence> sequences, Action<GenerationSequence, GeneratedToken>? onToken = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var counts = new int[sequences.Count];
        while (Step(sequences) > 0)
        {
            if (onToken is null)
            {
                continue;
            }

            for (int i = 0; i < sequences.Count; i++)
            {
                List<GeneratedToken> generated = sequences[i].Generated;
                for (; counts[i] < generated.Count; counts[i]++)
                {
                    onToken(sequences[i], generated[counts[i]]);
                }
            }
        }
    }

    private void Accept(GenerationSequence seq, int row)
    {
        int token = _sampleResult.TokenIds[row];
        int topN = seq.Params.Logprobs ?? 0;
        var top = topN == 0 ? [] : new TokenLogprob[topN];
        for (int j = 0; j < topN; j++)
        {
            int k = (row * _sampleResult.TopN) + j;
            top[j] = new TokenLogprob(_sampleResult.TopIds[k], _sampleResult.TopLogprobs[k]);
        }

        seq.Append(token);
        seq.Generated.Add(new GeneratedToken(token, _sampleResult.Logprobs[row], top));

        SamplingParams p = seq.Params;
        if (StopTokens.Ends(token, p, _eosTokenIds))
        {
            Finish(seq, FinishReason.Stop);
        }
        else if (seq.OutputTokens.Count >= p.MaxTokens || seq.Tokens.Count >= _model.MaxModelLength)
        {
            Finish(seq, FinishReason.Length);
        }
    }

    private void Finish(GenerationSequence seq, FinishReason reason)
    {
        seq.FinishReason = reason;
        foreach (int block in seq.BlockTable)
        {
            _blocks.Free(block);
        }

        seq.BlockTable.Clear();
    }

    private void EnsureBlocks(GenerationSequence seq, int tokens)
    {
        int needed = (tokens + _cache.BlockSize - 1) / _cache.BlockSize;
        while (seq.BlockTable.Count < needed)
        {
            if (!_blocks.TryAllocate(out int block))
            {
                throw new InvalidOperationException(
                    $"KV cache is full ({_blocks.Capacity} blocks of {_cache.BlockSize} tokens); raise --kv-cache-memory or run fewer sequences.");
            }

            seq.BlockTable.Add(block);
        }
    }
}

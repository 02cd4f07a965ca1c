using System.Runtime.InteropServices;

namespace Inference.Worker.Constraints;

/// <summary>
/// A grammar bound to a vocabulary: computes which tokens may come next from a match state, with the masks of
/// states already seen cached (outputs revisit the same states constantly: inside a string every character leads
/// back to the same state). Thread-safe; shared by every request that uses the same grammar text.
/// </summary>
public sealed class TokenConstraint
{
    // Masks kept per constraint, in bytes: 64 MiB holds 16k masks of a 4k vocabulary, 512 of a 128k one.
    private const long MaskCacheBytes = 64L << 20;

    private readonly TokenTrie _trie;
    private readonly int[] _eosTokenIds;
    private readonly Func<int, byte[]> _bytesOf;
    private readonly Func<int, bool> _isSpecial;
    private readonly Dictionary<MatchState, (byte[] Mask, bool OnlyEnd)> _masks = [];
    private readonly int _maxMasks;
    private readonly Lock _lock = new();

    internal TokenConstraint(Grammar grammar, TokenTrie trie, int vocabSize, int[] eosTokenIds, Func<int, byte[]> bytesOf, Func<int, bool> isSpecial)
    {
        Grammar = grammar;
        _trie = trie;
        VocabSize = vocabSize;
        _eosTokenIds = eosTokenIds;
        _bytesOf = bytesOf;
        _isSpecial = isSpecial;
        _maxMasks = (int)Math.Clamp(MaskCacheBytes / Math.Max(1, vocabSize), 16, 1 << 20);
    }

    public Grammar Grammar { get; }

    /// <summary>The width of the masks (the tokenizer's vocabulary).</summary>
    public int VocabSize { get; }

    /// <summary>How many masks were computed rather than found in the cache (for tests and metrics).</summary>
    public long MaskMisses { get; private set; }

    /// <summary>A matcher at the start of an output.</summary>
    public GrammarMatcher CreateMatcher() => new(this, Grammar.Initial);

    internal bool IsEos(int token) => Array.IndexOf(_eosTokenIds, token) >= 0;

    internal bool IsSpecial(int token) => _isSpecial(token);

    internal byte[] BytesOf(int token) => _bytesOf(token);

    /// <summary>
    /// The allowed tokens from <paramref name="state"/> (1 allowed, 0 not; shared, never written by callers), and
    /// whether end of sequence is all it allows.
    /// </summary>
    internal (byte[] Mask, bool OnlyEnd) MaskFor(MatchState state)
    {
        lock (_lock)
        {
            if (_masks.TryGetValue(state, out (byte[], bool) cached))
            {
                return cached;
            }
        }

        (byte[], bool) mask = ComputeMask(state);
        lock (_lock)
        {
            MaskMisses++;
            if (_masks.Count >= _maxMasks)
            {
                _masks.Clear();
            }

            CollectionsMarshal.GetValueRefOrAddDefault(_masks, state, out _) = mask;
        }

        return mask;
    }

    private (byte[] Mask, bool OnlyEnd) ComputeMask(MatchState state)
    {
        var mask = new byte[VocabSize];
        var states = new MatchState?[_trie.MaxDepth + 1];
        states[0] = state;
        bool any = false;
        int n = _trie.NodeCount;
        byte[] labels = _trie.Labels;
        int[] depths = _trie.Depths;
        int[] ends = _trie.SubtreeEnds;
        int[] offsets = _trie.TokenOffsets;
        int[] tokens = _trie.Tokens;
        int i = 0;
        while (i < n)
        {
            MatchState? next = Grammar.Step(states[depths[i] - 1]!, labels[i]);
            if (next is null)
            {
                i = ends[i];
                continue;
            }

            states[depths[i]] = next;
            for (int t = offsets[i]; t < offsets[i + 1]; t++)
            {
                if (tokens[t] < mask.Length)
                {
                    mask[tokens[t]] = 1;
                    any = true;
                }
            }

            i++;
        }

        // End of sequence when the output is a match; also when no token can continue it (a grammar needing a
        // character no token spells), so the output ends rather than going off the rails.
        if (state.CanEnd || !any)
        {
            foreach (int eos in _eosTokenIds)
            {
                if ((uint)eos < (uint)mask.Length)
                {
                    mask[eos] = 1;
                }
            }
        }

        return (mask, !any);
    }
}

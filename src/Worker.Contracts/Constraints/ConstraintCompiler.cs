using Inference.Worker.Tokenization;

namespace Inference.Worker.Constraints;

/// <summary>
/// Compiles grammar text against one tokenizer's vocabulary and caches the result by the text, so requests with
/// the same schema share one compiled constraint and its mask cache. Thread-safe.
/// </summary>
public sealed class ConstraintCompiler
{
    // Distinct grammars kept compiled; each holds its own mask cache, so this bounds memory too.
    private const int MaxCached = 64;

    private readonly ModelTokenizer _tokenizer;
    private readonly Lazy<TokenTrie> _trie;
    private readonly int[] _eos;
    private readonly Dictionary<string, TokenConstraint> _cache = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _order = [];
    private readonly Lock _lock = new();

    public ConstraintCompiler(ModelTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _eos = [.. tokenizer.EosTokenIds];
        _trie = new Lazy<TokenTrie>(() => TokenTrie.Build(tokenizer.VocabSize, tokenizer.TokenBytes, tokenizer.IsSpecial), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The compiled constraint for GBNF <paramref name="gbnf"/>; throws <see cref="GrammarException"/> naming the problem.</summary>
    public TokenConstraint Compile(string gbnf)
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        lock (_lock)
        {
            if (_cache.TryGetValue(gbnf, out TokenConstraint? hit))
            {
                _order.Remove(gbnf);
                _order.AddFirst(gbnf);
                return hit;
            }
        }

        Grammar grammar = Grammar.Parse(gbnf);
        _ = grammar.Initial;
        var constraint = new TokenConstraint(grammar, _trie.Value, _tokenizer.VocabSize, _eos, _tokenizer.TokenBytes, _tokenizer.IsSpecial);
        lock (_lock)
        {
            if (_cache.TryGetValue(gbnf, out TokenConstraint? raced))
            {
                return raced;
            }

            _cache[gbnf] = constraint;
            _order.AddFirst(gbnf);
            if (_order.Count > MaxCached)
            {
                _cache.Remove(_order.Last!.Value);
                _order.RemoveLast();
            }
        }

        return constraint;
    }
}

namespace Inference.Worker.Models;

/// <summary>
/// Host-side description of one forward step: several sequences, each contributing a chunk of new
/// tokens (a prefill chunk, or one decode token) at its own position, with its own block table.
/// All index data is packed into one reusable long[] so a step makes one host-to-device copy.
/// Reuse one instance per engine loop: <see cref="Clear"/> keeps the buffers.
/// </summary>
public sealed class ForwardBatch
{
    private readonly List<int> _queryStart = [];
    private readonly List<int> _queryLength = [];
    private readonly List<int> _contextLength = [];
    private readonly List<IReadOnlyList<int>> _blockTables = [];
    private readonly List<int> _tokens = [];
    private readonly List<int> _logitRows = [];
    private long[] _packed = new long[256];

    /// <summary>Tokens per KV block; must equal the cache's.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>When true, logits are returned for every new token, not only each sequence's last.</summary>
    public bool AllLogits { get; set; }

    public int NumSequences => _queryLength.Count;

    public int NumTokens => _tokens.Count;

    /// <summary>Rows of logits the step returns (sequences added with computeLogits, or every token with <see cref="AllLogits"/>).</summary>
    public int NumLogitRows => AllLogits ? _tokens.Count : _logitRows.Count;

    /// <summary>Longest query chunk in the batch (1 when every sequence decodes).</summary>
    public int MaxQueryLength { get; private set; }

    /// <summary>Longest attended context (cached + new tokens) in the batch.</summary>
    public int MaxKvLength { get; private set; }

    /// <summary>Shortest attended context in the batch (equal to <see cref="MaxKvLength"/> when no sequence is padded).</summary>
    public int MinKvLength { get; private set; }

    /// <summary>Query-key pairs that chunks of more than one token attend (causal): the prefill part of the attention work.</summary>
    public long PrefillAttentionPairs { get; private set; }

    public void Clear()
    {
        _queryStart.Clear();
        _queryLength.Clear();
        _contextLength.Clear();
        _blockTables.Clear();
        _tokens.Clear();
        _logitRows.Clear();
        MaxQueryLength = 0;
        MaxKvLength = 0;
        MinKvLength = 0;
        PrefillAttentionPairs = 0;
        AllLogits = false;
    }

    /// <summary>
    /// Adds a sequence's chunk: <paramref name="newTokens"/> sit at positions
    /// [contextLength, contextLength + newTokens.Length); positions below contextLength are already in
    /// the cache. <paramref name="blockTable"/> must cover every position up to the chunk's end.
    /// A chunk that does not finish its prompt needs no logits (<paramref name="computeLogits"/> false),
    /// which saves its lm_head row.
    /// </summary>
    public void Add(ReadOnlySpan<int> newTokens, int contextLength, IReadOnlyList<int> blockTable, bool computeLogits = true)
    {
        if (newTokens.IsEmpty)
        {
            throw new ArgumentException("A sequence chunk needs at least one token.", nameof(newTokens));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(contextLength);
        int kvLength = contextLength + newTokens.Length;
        if ((long)blockTable.Count * BlockSize < kvLength)
        {
            throw new ArgumentException(
                $"Block table of {blockTable.Count} blocks holds {blockTable.Count * BlockSize} tokens, but the chunk ends at {kvLength}.",
                nameof(blockTable));
        }

        if (computeLogits)
        {
            _logitRows.Add(_tokens.Count + newTokens.Length - 1);
        }

        _queryStart.Add(_tokens.Count);
        _queryLength.Add(newTokens.Length);
        _contextLength.Add(contextLength);
        _blockTables.Add(blockTable);
        foreach (int t in newTokens)
        {
            _tokens.Add(t);
        }

        MaxQueryLength = Math.Max(MaxQueryLength, newTokens.Length);
        if (newTokens.Length > 1)
        {
            PrefillAttentionPairs += ((long)newTokens.Length * contextLength) + ((long)newTokens.Length * (newTokens.Length + 1) / 2);
        }

        MinKvLength = _queryLength.Count == 1 ? kvLength : Math.Min(MinKvLength, kvLength);
        MaxKvLength = Math.Max(MaxKvLength, kvLength);
    }

    /// <summary>New token <paramref name="row"/> of the step (rows run sequence by sequence).</summary>
    internal int TokenAt(int row) => _tokens[row];

    /// <summary>The first row of sequence <paramref name="s"/>'s new tokens.</summary>
    internal int QueryStartOf(int s) => _queryStart[s];

    /// <summary>How many new tokens sequence <paramref name="s"/> has (1 in a decode).</summary>
    internal int QueryLengthOf(int s) => _queryLength[s];

    /// <summary>Tokens of sequence <paramref name="s"/> already in the cache (the position of its first new token).</summary>
    internal int ContextLengthOf(int s) => _contextLength[s];

    internal IReadOnlyList<int> BlockTableOf(int s) => _blockTables[s];

    /// <summary>Token rows that get logits, in order (without <see cref="AllLogits"/>).</summary>
    internal IReadOnlyList<int> LogitRows => _logitRows;

    // Packed layout, each a run of longs:
    // tokens[T] | positions[T] | slots[T] | gather[B*Lmax] | qpos[B*Qmax] | padIndex[T] | logitRows[R]
    internal int TokensOffset => 0;
    internal int PositionsOffset => NumTokens;
    internal int SlotsOffset => 2 * NumTokens;
    internal int GatherOffset => 3 * NumTokens;
    internal int QueryPositionsOffset => GatherOffset + NumSequences * MaxKvLength;
    internal int PadIndexOffset => QueryPositionsOffset + NumSequences * MaxQueryLength;
    internal int LogitRowsOffset => PadIndexOffset + NumTokens;
    internal int PackedLength => LogitRowsOffset + _logitRows.Count;

    /// <summary>Fills and returns the packed index buffer (valid up to <see cref="PackedLength"/>).</summary>
    internal long[] Pack()
    {
        if (NumSequences == 0)
        {
            throw new InvalidOperationException("A forward step needs at least one sequence.");
        }

        int length = PackedLength;
        if (_packed.Length < length)
        {
            _packed = new long[Math.Max(length, _packed.Length * 2)];
        }

        long[] p = _packed;
        int t = NumTokens;
        int b = NumSequences;
        int lmax = MaxKvLength;
        int qmax = MaxQueryLength;
        int blockSize = BlockSize;

        // Padded gather and query slots default to 0: slot 0 is always valid memory and is masked out.
        Array.Clear(p, GatherOffset, (b * lmax) + (b * qmax));

        for (int s = 0; s < b; s++)
        {
            int start = _queryStart[s];
            int qlen = _queryLength[s];
            int ctx = _contextLength[s];
            IReadOnlyList<int> table = _blockTables[s];

            for (int i = 0; i < qlen; i++)
            {
                int token = start + i;
                int pos = ctx + i;
                p[TokensOffset + token] = _tokens[token];
                p[PositionsOffset + token] = pos;
                p[SlotsOffset + token] = ((long)table[pos / blockSize] * blockSize) + (pos % blockSize);
                p[QueryPositionsOffset + (s * qmax) + i] = pos;
                p[PadIndexOffset + token] = (s * qmax) + i;
            }

            int kvLength = ctx + qlen;
            int gatherBase = GatherOffset + (s * lmax);
            for (int j = 0; j < kvLength; j++)
            {
                p[gatherBase + j] = ((long)table[j / blockSize] * blockSize) + (j % blockSize);
            }
        }

        for (int r = 0; r < _logitRows.Count; r++)
        {
            p[LogitRowsOffset + r] = _logitRows[r];
        }

        return p;
    }
}

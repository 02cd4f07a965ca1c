using static TorchSharp.torch;

namespace Inference.Worker.Sampling;

/// <summary>
/// The sampler's persistent batch state (vLLM's input batch): one row per running sequence with its sampling
/// parameters, and, for rows with penalties, its token history as device tensors (a seen-token mask over prompt and
/// output, and output token counts). State changes only when a sequence joins (its history is uploaded once),
/// leaves, or samples a token (one entry per penalised row). A step lists the rows it samples, in logits order; the
/// tensors derived from that list (temperatures, top-k/top-p, index tensors, logit bias) are rebuilt only when the
/// list or a row's membership changed, so a steady decode step uploads only its uniforms and its new tokens.
/// Owned by one thread.
/// </summary>
public sealed class SamplingBatch : IDisposable
{
    private SamplingParams?[] _params;
    private int[] _penaltySlotOf;
    private readonly Stack<int> _freeRows = new();
    private readonly Stack<int> _freePenaltySlots = new();
    private readonly List<int> _stepRows = [];
    private readonly List<double> _stepUniforms = [];
    private readonly List<bool> _stepBelowMin = [];
    private readonly List<ReadOnlyMemory<byte>> _stepAllowed = [];
    private byte[] _blockedStaging = [];
    private readonly List<long> _pendingSlots = [];
    private readonly List<long> _pendingTokens = [];
    private int[] _layoutRows = [];
    private bool[] _minTokensFlags = [];
    private long _membershipVersion;
    private long _layoutVersion = -1;
    private int _penaltyCapacity;
    private int _penaltySlotsUsed;
    private Tensor? _seen;
    private Tensor? _counts;
    private Tensor? _minTokensOffsets;
    private bool _minTokensValid;
    private bool _disposed;

    /// <summary>A batch with room for <paramref name="capacity"/> rows (it grows past that) over a vocabulary of <paramref name="vocab"/> on <paramref name="device"/>.</summary>
    public SamplingBatch(int capacity, long vocab, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocab, 1);
        ArgumentNullException.ThrowIfNull(device);
        Capacity = capacity;
        Vocab = vocab;
        Device = device;
        _params = new SamplingParams?[capacity];
        _penaltySlotOf = new int[capacity];
        for (int row = capacity - 1; row >= 0; row--)
        {
            _freeRows.Push(row);
        }
    }

    /// <summary>Rows the batch has room for now.</summary>
    public int Capacity { get; private set; }

    public long Vocab { get; }

    public Device Device { get; }

    /// <summary>Rows in use.</summary>
    public int Count => Capacity - _freeRows.Count;

    /// <summary>Host-to-device tensors created by this batch so far (state, step layouts and per-step data).</summary>
    public long Uploads { get; private set; }

    /// <summary>Bytes those uploads carried.</summary>
    public long UploadedBytes { get; private set; }

    /// <summary>Times the step layout's derived tensors were rebuilt.</summary>
    public long LayoutBuilds { get; private set; }

    internal int StepCount => _stepRows.Count;

    internal StepLayout Layout { get; private set; } = StepLayout.Empty;

    /// <summary>
    /// Takes a row for a sequence with <paramref name="p"/>; with penalties, its history (<paramref name="prompt"/>
    /// and the <paramref name="output"/> generated so far, recomputed tokens included after a preemption) is uploaded
    /// once here and then kept up to date by <see cref="Appended"/>.
    /// </summary>
    public int Join(SamplingParams p, IReadOnlyList<int> prompt, IReadOnlyList<int> output)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(output);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_freeRows.TryPop(out int row))
        {
            Grow();
            row = _freeRows.Pop();
        }

        _params[row] = p;
        _penaltySlotOf[row] = -1;
        _membershipVersion++;
        if (p.HasPenalties)
        {
            _penaltySlotOf[row] = TakePenaltySlot();
            LoadHistory(_penaltySlotOf[row], prompt, output);
        }

        return row;
    }

    /// <summary>Frees a row (its sequence finished, was preempted or aborted).</summary>
    public void Leave(int row)
    {
        ParamsOf(row);
        if (_penaltySlotOf[row] >= 0)
        {
            _freePenaltySlots.Push(_penaltySlotOf[row]);
            _penaltySlotOf[row] = -1;
        }

        _params[row] = null;
        _freeRows.Push(row);
        _membershipVersion++;
    }

    /// <summary>Records a token the row's sequence sampled (penalty state only; applied at the next sample).</summary>
    public void Appended(int row, int token)
    {
        ParamsOf(row);
        int slot = _penaltySlotOf[row];
        if (slot >= 0)
        {
            _pendingSlots.Add(slot);
            _pendingTokens.Add(token);
        }
    }

    /// <summary>Starts listing the rows of the next sampling step.</summary>
    public void BeginStep()
    {
        _stepRows.Clear();
        _stepUniforms.Clear();
        _stepBelowMin.Clear();
        _stepAllowed.Clear();
    }

    /// <summary>
    /// Adds the next logits row of the step: it samples for <paramref name="row"/> with the uniform draw
    /// <paramref name="uniform"/> in [0, 1); <paramref name="belowMinTokens"/> masks EOS and stop ids.
    /// </summary>
    public void AddRow(int row, double uniform, bool belowMinTokens) => AddRow(row, uniform, belowMinTokens, ReadOnlyMemory<byte>.Empty);

    /// <summary>
    /// Adds the next logits row of the step as <see cref="AddRow(int, double, bool)"/> does, sampling only among
    /// the tokens <paramref name="allowedTokens"/> marks 1 (a grammar's mask; empty: no constraint; tokens past its
    /// end are not allowed).
    /// </summary>
    public void AddRow(int row, double uniform, bool belowMinTokens, ReadOnlyMemory<byte> allowedTokens)
    {
        ParamsOf(row);
        _stepRows.Add(row);
        _stepUniforms.Add(uniform);
        _stepBelowMin.Add(belowMinTokens);
        _stepAllowed.Add(allowedTokens);
    }

    internal SamplingParams ParamsOf(int row)
    {
        if ((uint)row >= (uint)Capacity || _params[row] is not { } p)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, "not a joined row of this sampling batch");
        }

        return p;
    }

    /// <summary>The step's derived tensors, rebuilt only when the row list or the membership changed.</summary>
    internal StepLayout PrepareLayout()
    {
        if (_layoutVersion == _membershipVersion && SameRows())
        {
            return Layout;
        }

        Layout.Dispose();
        Layout = StepLayout.Build(this, _stepRows);
        _layoutRows = [.. _stepRows];
        _layoutVersion = _membershipVersion;
        _minTokensValid = false;
        LayoutBuilds++;
        return Layout;
    }

    /// <summary>The step's uniforms for the rows at <paramref name="positions"/> (one upload per step).</summary>
    internal Tensor Uniforms(int[] positions)
    {
        var u = new float[positions.Length];
        for (int r = 0; r < positions.Length; r++)
        {
            // float32 rounding must not turn u < 1 into 1.
            u[r] = Math.Min((float)_stepUniforms[positions[r]], 0.99999994f);
        }

        return Upload(u);
    }

    /// <summary>Flat [position, token] offsets masked by min_tokens, or null; rebuilt only when the flags change.</summary>
    internal Tensor? MinTokensOffsets(IReadOnlyList<int> eosTokenIds)
    {
        bool any = false;
        for (int i = 0; i < _stepBelowMin.Count; i++)
        {
            any |= _stepBelowMin[i];
        }

        if (!any)
        {
            return null;
        }

        if (_minTokensValid && _minTokensFlags.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_stepBelowMin)))
        {
            return _minTokensOffsets;
        }

        _minTokensOffsets?.Dispose();
        var offsets = new List<long>();
        for (int i = 0; i < _stepRows.Count; i++)
        {
            if (!_stepBelowMin[i])
            {
                continue;
            }

            long rowStart = i * Vocab;
            for (int j = 0; j < eosTokenIds.Count; j++)
            {
                // A config can name an EOS id outside the vocabulary; it can never be sampled, so it is skipped.
                if ((uint)eosTokenIds[j] < (ulong)Vocab)
                {
                    offsets.Add(rowStart + eosTokenIds[j]);
                }
            }

            IReadOnlyList<int> stops = ParamsOf(_stepRows[i]).StopTokenIds;
            for (int j = 0; j < stops.Count; j++)
            {
                offsets.Add(rowStart + stops[j]);
            }
        }

        _minTokensOffsets = offsets.Count == 0 ? null : Keep(Upload(offsets.ToArray()));
        _minTokensFlags = [.. _stepBelowMin];
        _minTokensValid = true;
        return _minTokensOffsets;
    }

    /// <summary>
    /// The step's constrained positions and their blocked-token mask [k, vocab] (true: not allowed), or null when
    /// no row is constrained, so unconstrained steps pay nothing. One host buffer, one upload per step.
    /// </summary>
    internal (Tensor Positions, Tensor Blocked)? GrammarMasks()
    {
        int k = 0;
        for (int i = 0; i < _stepAllowed.Count; i++)
        {
            k += _stepAllowed[i].IsEmpty ? 0 : 1;
        }

        if (k == 0)
        {
            return null;
        }

        long width = Vocab;
        // Reused while the count of constrained rows holds; the bool conversion below copies out of it.
        if (_blockedStaging.Length != k * width)
        {
            _blockedStaging = new byte[k * width];
        }

        var positions = new long[k];
        int j = 0;
        for (int i = 0; i < _stepAllowed.Count; i++)
        {
            ReadOnlySpan<byte> allowed = _stepAllowed[i].Span;
            if (allowed.IsEmpty)
            {
                continue;
            }

            positions[j] = i;
            Span<byte> blocked = _blockedStaging.AsSpan((int)(j * width), (int)width);
            int n = (int)Math.Min(allowed.Length, width);
            for (int t = 0; t < n; t++)
            {
                blocked[t] = (byte)(allowed[t] ^ 1);
            }

            blocked[n..].Fill(1);
            j++;
        }

        CountUpload((k * width) + (k * sizeof(long)));
        Tensor mask = tensor(_blockedStaging, [k, width], ScalarType.Byte).to(ScalarType.Bool).to(Device);
        return (tensor(positions, ScalarType.Int64, Device), mask);
    }

    /// <summary>The seen-token mask and output counts of the given penalty slots, with pending tokens applied first.</summary>
    internal (Tensor Seen, Tensor Counts) PenaltyState(Tensor slots)
    {
        FlushAppended();
        return (_seen!.index_select(0, slots), _counts!.index_select(0, slots));
    }

    internal int PenaltySlotOf(int row) => _penaltySlotOf[row];

    internal Tensor Upload(float[] values)
    {
        CountUpload(values.Length * sizeof(float));
        return tensor(values, ScalarType.Float32, Device);
    }

    internal Tensor Upload(long[] values)
    {
        CountUpload(values.Length * sizeof(long));
        return tensor(values, ScalarType.Int64, Device);
    }

    internal static Tensor Keep(Tensor t) => t.DetachFromDisposeScope();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Layout.Dispose();
        _minTokensOffsets?.Dispose();
        _seen?.Dispose();
        _counts?.Dispose();
    }

    private void CountUpload(long bytes)
    {
        Uploads++;
        UploadedBytes += bytes;
    }

    // Host arrays only: penalty tensors have their own slots and grow on their own.
    private void Grow()
    {
        int old = Capacity;
        Capacity = old * 2;
        Array.Resize(ref _params, Capacity);
        Array.Resize(ref _penaltySlotOf, Capacity);
        for (int row = Capacity - 1; row >= old; row--)
        {
            _freeRows.Push(row);
        }
    }

    private bool SameRows() =>
        _layoutRows.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_stepRows));

    private int TakePenaltySlot()
    {
        if (_freePenaltySlots.TryPop(out int slot))
        {
            return slot;
        }

        if (_penaltySlotsUsed == _penaltyCapacity)
        {
            // Grow by doubling (rows with penalties are usually few): new tensors, old rows copied.
            FlushAppended();
            int grown = Math.Max(4, _penaltyCapacity * 2);
            using (var scope = NewDisposeScope())
            {
                Tensor seen = zeros([grown, Vocab], ScalarType.Bool, Device);
                Tensor counts = zeros([grown, Vocab], ScalarType.Float32, Device);
                if (_penaltyCapacity > 0)
                {
                    seen.narrow(0, 0, _penaltyCapacity).copy_(_seen!);
                    counts.narrow(0, 0, _penaltyCapacity).copy_(_counts!);
                }

                _seen?.Dispose();
                _counts?.Dispose();
                _seen = Keep(seen);
                _counts = Keep(counts);
            }

            _penaltyCapacity = grown;
        }

        return _penaltySlotsUsed++;
    }

    private void LoadHistory(int slot, IReadOnlyList<int> prompt, IReadOnlyList<int> output)
    {
        // Pending tokens may still name this slot's previous row: apply them before the row is overwritten.
        FlushAppended();
        var history = new long[prompt.Count + output.Count];
        for (int i = 0; i < prompt.Count; i++)
        {
            history[i] = prompt[i];
        }

        for (int i = 0; i < output.Count; i++)
        {
            history[prompt.Count + i] = output[i];
        }

        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        Tensor seen = _seen![slot];
        Tensor counts = _counts![slot];
        seen.zero_();
        counts.zero_();
        if (history.Length == 0)
        {
            return;
        }

        Tensor ids = Upload(history);
        seen.index_fill_(0, ids, true);
        if (output.Count > 0)
        {
            Tensor outputIds = ids.narrow(0, prompt.Count, output.Count);
            counts.index_add_(0, outputIds, ones([output.Count], ScalarType.Float32, Device), 1);
        }
    }

    private void FlushAppended()
    {
        int n = _pendingSlots.Count;
        if (n == 0)
        {
            return;
        }

        var packed = new long[2 * n];
        for (int i = 0; i < n; i++)
        {
            packed[i] = _pendingSlots[i];
            packed[n + i] = _pendingTokens[i];
        }

        _pendingSlots.Clear();
        _pendingTokens.Clear();
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        Tensor index = Upload(packed).view(2, n);
        Tensor slots = index[0];
        Tensor tokens = index[1];
        _seen!.index_put_(tensor(true, device: Device), [slots, tokens]);
        _counts!.index_put_(ones([n], ScalarType.Float32, Device), [slots, tokens], accumulate: true);
    }

    /// <summary>Sampled rows of one kind: how many, their step positions, temperatures [n, 1] and min_p [n, 1] (null: none).</summary>
    internal sealed record SampleGroup(int Count, Tensor Index, Tensor Temperatures, Tensor? MinP);

    /// <summary>Tensors derived from one list of step rows; detached from dispose scopes and owned by the batch.</summary>
    internal sealed class StepLayout : IDisposable
    {
        private const int NucleusCandidatesMin = 64;
        private readonly List<Tensor> _owned = [];

        public static StepLayout Empty { get; } = new();

        /// <summary>Rows that sample (non-greedy) over the unsorted distribution (temperature, maybe min_p).</summary>
        public SampleGroup? Plain { get; private set; }

        /// <summary>Rows with top-k or top-p (sampled over the sorted distribution).</summary>
        public SampleGroup? Sorted { get; private set; }

        /// <summary>The step positions of the plain then the sorted rows: the order the step's uniforms are drawn in.</summary>
        public int[] SampledPositions { get; private init; } = [];

        public Tensor? TopK { get; private set; }

        public Tensor? TopP { get; private set; }

        public int MaxTopK { get; private init; }

        /// <summary>Tokens tried first for top-p before a full sort (at least the largest finite top_k).</summary>
        public int NucleusCandidates { get; private init; }

        /// <summary>Per sorted row: true when it has no top_k (its top-p runs over the whole vocabulary).</summary>
        public Tensor? FullVocabulary { get; private set; }

        public Tensor? PenaltyPositions { get; private set; }

        public Tensor? PenaltySlots { get; private set; }

        public Tensor? Repetition { get; private set; }

        public Tensor? Presence { get; private set; }

        public Tensor? Frequency { get; private set; }

        public Tensor? BiasValues { get; private set; }

        public Tensor? BiasPositions { get; private set; }

        public Tensor? BiasTokens { get; private set; }

        /// <summary>Largest logprobs count of the step (0 when none asks for alternatives).</summary>
        public int TopN { get; private init; }

        public bool AnyLogprobs { get; private init; }

        public bool[] WantsLogprobs { get; private init; } = [];

        public bool AnySampled => SampledPositions.Length > 0;

        public static StepLayout Build(SamplingBatch batch, List<int> rows)
        {
            var plain = new List<int>();
            var sorted = new List<int>();
            var penalised = new List<int>();
            var wants = new bool[rows.Count];
            int topN = 0;
            bool anyLogprobs = false;
            bool anyBias = false;
            for (int i = 0; i < rows.Count; i++)
            {
                SamplingParams p = batch.ParamsOf(rows[i]);
                if (p.Logprobs is int n)
                {
                    anyLogprobs = true;
                    wants[i] = true;
                    topN = Math.Max(topN, n);
                }

                if (!p.IsGreedy)
                {
                    (p.NeedsSortedFilter ? sorted : plain).Add(i);
                }

                if (p.HasPenalties)
                {
                    penalised.Add(i);
                }

                anyBias |= p.LogitBias is { Count: > 0 };
            }

            long vocab = batch.Vocab;
            var ks = new long[sorted.Count];
            int maxFiniteTopK = 0;
            for (int r = 0; r < sorted.Count; r++)
            {
                int topK = batch.ParamsOf(rows[sorted[r]]).TopK;
                ks[r] = topK > 0 ? Math.Min(topK, vocab) : vocab;
                maxFiniteTopK = (int)Math.Max(maxFiniteTopK, topK > 0 ? ks[r] : 0);
            }

            var layout = new StepLayout
            {
                SampledPositions = [.. plain, .. sorted],
                MaxTopK = ks.Length == 0 ? 0 : (int)ks.Max(),
                NucleusCandidates = (int)Math.Min(vocab, Math.Max(NucleusCandidatesMin, maxFiniteTopK)),
                TopN = topN,
                AnyLogprobs = anyLogprobs,
                WantsLogprobs = wants,
            };
            layout.Plain = layout.Group(batch, rows, plain);
            layout.Sorted = layout.Group(batch, rows, sorted);
            if (sorted.Count > 0)
            {
                layout.TopK = layout.Own(batch.Upload(ks).unsqueeze(1));
                layout.FullVocabulary = layout.Own(layout.TopK >= vocab);
                layout.TopP = layout.Own(batch.Upload(Select(batch, rows, sorted, p => p.TopP)).unsqueeze(1));
            }

            if (penalised.Count > 0)
            {
                var slots = new long[penalised.Count];
                for (int r = 0; r < penalised.Count; r++)
                {
                    slots[r] = batch.PenaltySlotOf(rows[penalised[r]]);
                }

                layout.PenaltyPositions = layout.Own(batch.Upload(Positions(penalised)));
                layout.PenaltySlots = layout.Own(batch.Upload(slots));
                layout.Repetition = layout.Own(batch.Upload(Select(batch, rows, penalised, p => p.RepetitionPenalty)).unsqueeze(1));
                layout.Presence = layout.Own(batch.Upload(Select(batch, rows, penalised, p => p.PresencePenalty)).unsqueeze(1));
                layout.Frequency = layout.Own(batch.Upload(Select(batch, rows, penalised, p => p.FrequencyPenalty)).unsqueeze(1));
            }

            if (anyBias)
            {
                var positions = new List<long>();
                var tokens = new List<long>();
                var values = new List<float>();
                for (int i = 0; i < rows.Count; i++)
                {
                    if (batch.ParamsOf(rows[i]).LogitBias is { } bias)
                    {
                        foreach ((int token, float value) in bias)
                        {
                            positions.Add(i);
                            tokens.Add(token);
                            values.Add(value);
                        }
                    }
                }

                layout.BiasValues = layout.Own(batch.Upload(values.ToArray()));
                layout.BiasPositions = layout.Own(batch.Upload(positions.ToArray()));
                layout.BiasTokens = layout.Own(batch.Upload(tokens.ToArray()));
            }

            return layout;
        }

        public void Dispose()
        {
            foreach (Tensor t in _owned)
            {
                t.Dispose();
            }

            _owned.Clear();
        }

        // A group of sampled rows: their step positions as an index, temperatures, and min_p when any row has it.
        private SampleGroup? Group(SamplingBatch batch, List<int> rows, List<int> positions)
        {
            if (positions.Count == 0)
            {
                return null;
            }

            Tensor? minP = positions.Exists(i => batch.ParamsOf(rows[i]).MinP > 0f)
                ? Own(batch.Upload(Select(batch, rows, positions, p => p.MinP)).unsqueeze(1))
                : null;
            return new SampleGroup(
                positions.Count,
                Own(batch.Upload(Positions(positions))),
                Own(batch.Upload(Select(batch, rows, positions, p => p.Temperature)).unsqueeze(1)),
                minP);
        }

        private Tensor Own(Tensor t)
        {
            Tensor kept = Keep(t);
            _owned.Add(kept);
            return kept;
        }

        private static long[] Positions(List<int> positions)
        {
            var index = new long[positions.Count];
            for (int i = 0; i < index.Length; i++)
            {
                index[i] = positions[i];
            }

            return index;
        }

        private static float[] Select(SamplingBatch batch, List<int> rows, List<int> positions, Func<SamplingParams, float> value)
        {
            var values = new float[positions.Count];
            for (int r = 0; r < values.Length; r++)
            {
                values[r] = value(batch.ParamsOf(rows[positions[r]]));
            }

            return values;
        }
    }
}

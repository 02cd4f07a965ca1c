using Inference.Scheduler.Batching;

namespace Inference.Scheduler;

public sealed partial class BatchScheduler
{
    /// <summary>
    /// Plans the next step. The returned plan is reused by the next call. Sequences' NumComputed already
    /// include the planned tokens when this returns (each chunk's ContextLength is the value before).
    /// </summary>
    public StepPlan Schedule()
    {
        _plan.Clear();
        foreach (Sequence forked in _forked)
        {
            forked.PendingForks = null;
        }

        _forked.Clear();
        long now = _time.GetTimestamp();
        if (now - _lastAgingCheck >= _agingCheckTicks)
        {
            _lastAgingCheck = now;
            _waiting.Age();
        }

        if (_options.PriorityPreemption)
        {
            MakeRoomForHigherClass();
        }

        int budget = _options.MaxNumBatchedTokens;

        // 1. Running decodes first: a running sequence never waits behind a prompt.
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            Sequence seq = _running[i];
            if (!seq.IsDecode)
            {
                continue;
            }

            if (!GrowOrPreempt(seq, seq.NumComputed + 1))
            {
                // The sequence itself was the only possible victim: it is preempted; the list shifted.
                i--;
                continue;
            }

            _plan.Chunks.Add(new ScheduledChunk(seq, seq.NumComputed, 1, NeedsSample: true, IsDecode: true));
            seq.NumComputed++;
            _plan.NumDecodeTokens++;
            budget--;
        }

        // 2. Partial prefills of running sequences, in priority order.
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            Sequence seq = _running[i];
            if (seq.IsDecode || seq.Pending == 0 || IsScheduled(seq))
            {
                continue;
            }

            int chunk = Math.Min(seq.Pending, PrefillBudget(budget));

            // Like a decode, a started prefill may take blocks from lower-class, newer work; otherwise
            // prefills holding part of their blocks could wait on each other forever.
            if (!GrowOrPreempt(seq, seq.NumComputed + chunk))
            {
                i--;
                continue;
            }

            AddPrefillChunk(seq, chunk);
            budget -= chunk;
        }

        // 3. Admit waiting sequences while there is budget, a sequence slot and memory.
        while (budget > 0 && _running.Count < _options.MaxNumSeqs)
        {
            Sequence? candidate = _waiting.Peek(_fairness);

            // A sequence preempted in this step is not readmitted in the same step (it would just thrash).
            if (candidate is null || _plan.Preempted.Contains(candidate) || !TryAdmit(candidate, budget, out int chunk))
            {
                break; // head-of-line: admitting out of order would let big prompts starve
            }

            budget -= chunk;
        }

        return _plan;
    }

    private bool TryAdmit(Sequence seq, int budget, out int chunk)
    {
        ReadOnlySpan<int> tokens = seq.TokenSpan;
        int cachedBlocks = _blocks.CountCachedPrefixBlocks(tokens, seq.PrefixSalt);

        // At least one token must be computed to produce logits.
        int cachedTokens = Math.Min(cachedBlocks * _blocks.BlockSize, (tokens.Length - 1) / _blocks.BlockSize * _blocks.BlockSize);
        chunk = Math.Min(tokens.Length - cachedTokens, PrefillBudget(budget));
        if (!_blocks.TryAllocate(seq.BlockTable, tokens, cachedTokens + chunk, seq.PrefixSalt, _watermarkBlocks, out int served))
        {
            chunk = 0;
            return false;
        }

        // The manager may serve fewer cached tokens than counted (e.g. capped); compute the rest.
        chunk = Math.Min(tokens.Length - served, PrefillBudget(budget));
        if (served + chunk > seq.BlockTable.Count * _blocks.BlockSize && !_blocks.TryAppend(seq.BlockTable, served + chunk, _plan.BlockCopies))
        {
            _blocks.Free(seq.BlockTable);
            chunk = 0;
            return false;
        }

        _waiting.Remove(seq);
        seq.Status = SequenceStatus.Running;
        seq.NumComputed = served;
        seq.NumCachedTokens = served;
        seq.AdmissionOrder = ++_admissions;
        InsertRunning(seq);
        AddPrefillChunk(seq, chunk);
        return true;
    }

    private int PrefillBudget(int budget) =>
        _options.LongPrefillTokenThreshold > 0 ? Math.Min(budget, _options.LongPrefillTokenThreshold) : budget;

    private void AddPrefillChunk(Sequence seq, int chunk)
    {
        // Charge prefill when it is planned, not after the step: several admissions in one step must see
        // each other's cost, or one tenant could take every free slot in a burst.
        _fairness.Charge(seq.Request.Tenant, chunk, 0);
        bool completes = seq.NumComputed + chunk == seq.Tokens.Count;
        _plan.Chunks.Add(new ScheduledChunk(seq, seq.NumComputed, chunk, NeedsSample: completes, IsDecode: false));
        seq.NumComputed += chunk;
        _plan.NumPrefillTokens += chunk;
        if (completes && seq.Request.N > 1 && seq.Index == 0 && seq.OutputLength == 0 && _requests[seq.Request.RequestId].Count == 1)
        {
            Fork(seq);
        }
    }

    // n > 1: the prompt's blocks are shared by reference; each fork samples its own first token from
    // the parent's logits row this step and copies a shared block only when it first writes into it.
    private void Fork(Sequence parent)
    {
        var targets = new List<Sequence>(parent.Request.N) { parent };
        List<Sequence> siblings = _requests[parent.Request.RequestId];
        for (int i = 1; i < parent.Request.N; i++)
        {
            Sequence child = Sequence.ForkOf(parent, _nextSequenceId++, i);
            _blocks.Fork(parent.BlockTable, child.BlockTable);
            child.AdmissionOrder = ++_admissions;
            InsertRunning(child);
            siblings.Add(child);
            targets.Add(child);
            _fairness.Activate(parent.Request.Tenant);
        }

        parent.PendingForks = targets;
        _forked.Add(parent);
    }

    private bool IsScheduled(Sequence seq)
    {
        foreach (ScheduledChunk chunk in _plan.Chunks)
        {
            if (ReferenceEquals(chunk.Sequence, seq))
            {
                return true;
            }
        }

        return false;
    }

    // Keeps _running ordered by (class, admission): victims are taken from the end.
    private void InsertRunning(Sequence seq)
    {
        int i = _running.Count;
        while (i > 0 && Compare(_running[i - 1], seq) > 0)
        {
            i--;
        }

        _running.Insert(i, seq);
    }

    private static int Compare(Sequence a, Sequence b)
    {
        int c = a.EffectiveClass.CompareTo(b.EffectiveClass);
        return c != 0 ? c : a.AdmissionOrder.CompareTo(b.AdmissionOrder);
    }
}

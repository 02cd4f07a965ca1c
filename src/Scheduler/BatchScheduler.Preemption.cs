namespace Inference.Scheduler;

public sealed partial class BatchScheduler
{
    /// <summary>
    /// Grows <paramref name="seq"/>'s table to <paramref name="tokens"/>, preempting the lowest-class, most
    /// recently admitted running sequences (never one already in this step's plan) until it fits. Returns
    /// false when <paramref name="seq"/> itself had to be preempted.
    /// </summary>
    private bool GrowOrPreempt(Sequence seq, int tokens)
    {
        while (!_blocks.TryAppend(seq.BlockTable, tokens, _plan.BlockCopies))
        {
            Sequence? victim = LastUnscheduledRunning();
            if (victim is null || ReferenceEquals(victim, seq))
            {
                Preempt(seq, forPriority: false);
                return false;
            }

            Preempt(victim, forPriority: false);
        }

        return true;
    }

    /// <summary>
    /// When the next waiting sequence outranks running work and cannot get a slot or memory, preempts
    /// lower-class running sequences (each at most MaxPriorityPreemptionsPerSequence times) so it starts
    /// in this step.
    /// </summary>
    private void MakeRoomForHigherClass()
    {
        Sequence? head = _waiting.Peek(_fairness);
        if (head is null || _running.Count == 0)
        {
            return;
        }

        int needed = Math.Min(head.Tokens.Count, _options.MaxNumBatchedTokens);
        while (true)
        {
            bool slotsFull = _running.Count >= _options.MaxNumSeqs;
            int blocksShort = _blocks.BlocksNeeded(head.BlockTable, needed) + _watermarkBlocks - _blocks.FreeBlocks;
            if (!slotsFull && blocksShort <= 0)
            {
                return;
            }

            Sequence victim = _running[^1];
            if (victim.EffectiveClass <= head.EffectiveClass || victim.PriorityPreemptions >= _options.MaxPriorityPreemptionsPerSequence)
            {
                return;
            }

            Preempt(victim, forPriority: true);
        }
    }

    private Sequence? LastUnscheduledRunning()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            if (!IsScheduled(_running[i]))
            {
                return _running[i];
            }
        }

        return null;
    }

    // Recompute preemption: the blocks go back (full ones stay in the prefix cache until evicted), and the
    // sequence waits at the head of its class with its generated tokens, which are never streamed again.
    private void Preempt(Sequence seq, bool forPriority)
    {
        _running.Remove(seq);
        _blocks.Free(seq.BlockTable);
        seq.NumComputed = 0;
        seq.Status = SequenceStatus.Preempted;
        seq.Preemptions++;
        if (forPriority)
        {
            seq.PriorityPreemptions++;
        }

        TotalPreemptions++;
        _waiting.EnqueuePreempted(seq);
        _plan.Preempted.Add(seq);
    }
}

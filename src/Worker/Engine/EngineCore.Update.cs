using Inference.Scheduler;
using Inference.Scheduler.Batching;
using Inference.Worker.Runtime;

namespace Inference.Worker.Engine;

public sealed partial class EngineCore
{
    // Before the step executes: count preemptions, and end queue time for requests planned for the first time.
    private void Planned(StepPlan plan)
    {
        foreach (Sequence preempted in plan.Preempted)
        {
            if (StateOf(preempted) is { } ps)
            {
                ps.Request.Preemptions++;
                LeaveBatch(ps);
            }
        }

        MarkFirstScheduled(plan, _time.GetTimestamp());
    }

    // After the step executed: append each sampled token and decide whether its sequence stops, then let the
    // scheduler commit full blocks and charge tenants, then emit events and retire finished requests.
    private void Update(StepPlan plan, string? error)
    {
        if (error is not null)
        {
            FailPlan(plan, error);
        }
        else
        {
            IReadOnlyList<SequenceState> targets = _executor.Targets;
            for (int i = 0; i < targets.Count; i++)
            {
                SequenceState target = targets[i];
                Sequence seq = target.Sequence;
                int token = _executor.TokenAt(i);
                seq.AppendToken(token);
                _executor.Batch.Appended(target.Row, token);
                if (CheckStop(target, token) is FinishReason reason)
                {
                    _scheduler.Finish(seq, reason);
                }
            }
        }

        _scheduler.Complete(plan);
        EmitAndRetire(plan);
    }

    /// <summary>
    /// Every stop condition of a sampled token, in one place (vLLM's check_stop): EOS unless ignored and the
    /// request's stop ids (stop), a grammar matched completely (stop), max_tokens and the model's context (length). Stop strings are matched on
    /// detokenized text by the reader (<see cref="GenerationStream"/>), which ends the choice through control.
    /// </summary>
    private FinishReason? CheckStop(SequenceState target, int token)
    {
        Sequence seq = target.Sequence;
        Sampling.SamplingParams p = target.Request.Request.Sampling;
        if (StopTokens.Ends(token, p, _runtime.EosTokenIds))
        {
            return FinishReason.Stop;
        }

        // The mask allowed only this grammar's tokens, so Accept fails only on a token outside the tokenizer's
        // vocabulary (padded embedding rows); either way nothing valid can follow.
        if (target.Matcher is { } matcher && (!matcher.Accept(token) || matcher.IsComplete))
        {
            return FinishReason.Stop;
        }

        if (seq.OutputLength >= p.MaxTokens || seq.Tokens.Count >= _runtime.Model.MaxModelLength)
        {
            return FinishReason.Length;
        }

        return null;
    }

    // Queue time ends when a request is first planned, before its forward runs (vLLM's queued -> scheduled
    // interval); TTFT ends after the forward that samples its first token, so a long prefill counts in TTFT only.
    private void MarkFirstScheduled(StepPlan plan, long now)
    {
        List<ScheduledChunk> chunks = plan.Chunks;
        for (int i = 0; i < chunks.Count; i++)
        {
            Sequence seq = chunks[i].Sequence;
            if (StateOf(seq)?.Request is { } state && !state.Closed && state.FirstScheduled < 0)
            {
                state.FirstScheduled = now;
                state.CachedPromptTokens = seq.NumCachedTokens;
                _leftQueue?.Invoke(state);
            }
        }
    }

    private void FailPlan(StepPlan plan, string error)
    {
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            foreach (Sequence seq in chunk.SampleInto)
            {
                if (StateOf(seq)?.Request is { } state && !seq.IsFinished)
                {
                    _scheduler.Abort(seq.Request.RequestId);
                    Close(state, FinishReason.Error, error);
                }
            }
        }
    }

    private void EmitAndRetire(StepPlan plan)
    {
        long now = _time.GetTimestamp();
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            if (StateOf(chunk.Sequence)?.Request is not { } state || state.Closed)
            {
                continue;
            }

            if (!chunk.IsDecode)
            {
                _promptComputed += chunk.NumNewTokens;
            }

            if (!chunk.NeedsSample)
            {
                continue;
            }

            IReadOnlyList<Sequence> sampleInto = chunk.SampleInto;
            for (int k = 0; k < sampleInto.Count; k++)
            {
                // Indexed, not foreach: enumerating an IReadOnlyList allocates an enumerator per chunk.
                if (StateOf(sampleInto[k]) is { } target)
                {
                    Emit(state, target, now);
                }
            }
        }
    }

    private void Emit(RequestState state, SequenceState target, long now)
    {
        if (state.Closed)
        {
            return;
        }

        Sequence seq = target.Sequence;
        int choice = seq.Index;
        int produced = seq.OutputLength;

        // After a preemption the recompute re-derives tokens the reader already has: send only new ones.
        if (produced > state.Emitted[choice])
        {
            int token = seq.Tokens[^1];
            (float logprob, TokenLogprob[]? top) = _executor.LogprobsOf(target);
            state.Emitted[choice] = produced;
            state.CompletionTokens++;
            _generated++;
            if (state.FirstToken < 0)
            {
                state.FirstToken = now;
            }

            FinishReason finish = seq.IsFinished ? seq.FinishReason : FinishReason.None;
            if (state.Events.Reader.Count >= _options.MaxBufferedEventsPerRequest
                || !state.Writer.TryWrite(new EngineEvent(choice, token, logprob, top, finish, now)))
            {
                // The reader stopped reading: never block the loop on it.
                _scheduler.Abort(state.Request.RequestId);
                Close(state, FinishReason.Abort, "the client stopped reading; request aborted");
                return;
            }
        }
        else if (seq.IsFinished)
        {
            state.Writer.TryWrite(new EngineEvent(choice, -1, float.NaN, null, seq.FinishReason, now));
        }

        if (seq.IsFinished)
        {
            OnChoiceFinished(state, seq, sendEvent: false);
        }
    }

    private void OnChoiceFinished(RequestState state, Sequence seq, bool sendEvent = true)
    {
        if (state.Closed)
        {
            return;
        }

        if (sendEvent)
        {
            state.Writer.TryWrite(new EngineEvent(seq.Index, -1, float.NaN, null, seq.FinishReason, _time.GetTimestamp()));
        }

        if (StateOf(seq) is { } finished)
        {
            Untrack(finished);
        }

        state.ChoicesFinished++;
        if (state.ChoicesFinished >= state.Request.N)
        {
            Close(state, FinishReason.None, null);
        }
    }

    // Ends a request's stream: an error or abort event if given, then the usage, exactly once.
    private void Close(RequestState state, FinishReason reason, string? error)
    {
        if (state.Closed)
        {
            return;
        }

        state.Closed = true;
        if (state.FirstScheduled < 0)
        {
            _leftQueue?.Invoke(state);
        }

        long now = _time.GetTimestamp();
        if (reason != FinishReason.None)
        {
            state.Writer.TryWrite(new EngineEvent(-1, -1, float.NaN, null, reason, now, error));
        }

        TimeSpan Since(long t) => t < 0 ? TimeSpan.Zero : _time.GetElapsedTime(state.Submitted, t);
        var usage = new RequestUsage
        {
            PromptTokens = state.Request.PromptTokens.Count,
            CompletionTokens = state.CompletionTokens,
            CachedPromptTokens = Math.Max(0, state.CachedPromptTokens),
            QueueTime = Since(state.FirstScheduled),
            TimeToFirstToken = Since(state.FirstToken),
            Total = _time.GetElapsedTime(state.Submitted, now),
            Preemptions = state.Preemptions,
        };
        state.Writer.TryWrite(new EngineEvent(-1, -1, float.NaN, null, FinishReason.None, now, Usage: usage));
        state.Writer.TryComplete();
        foreach (SequenceState seq in state.Sequences)
        {
            Untrack(seq);
        }

        state.Sequences.Clear();
        _live.Remove(state.Request.RequestId);
        _closed?.Invoke(state);
    }

    private void PublishStats(double planMicros, double forwardMicros, double sampleMicros)
    {
        var blocks = _scheduler.Blocks;
        Stats = new EngineStats
        {
            WaitingInteractive = _scheduler.NumWaitingOf(PriorityClass.Interactive),
            WaitingStandard = _scheduler.NumWaitingOf(PriorityClass.Standard),
            WaitingBatch = _scheduler.NumWaitingOf(PriorityClass.Batch),
            Running = _scheduler.NumRunning,
            LiveRequests = _live.Count,
            KvBlocksUsed = blocks.UsedBlocks,
            KvBlocksTotal = blocks.TotalBlocks,
            KvBlocksCached = blocks.CachedBlocks,
            PrefixCacheHitTokens = blocks.PrefixHitBlocks * blocks.BlockSize,
            PrefixCacheQueryTokens = blocks.PrefixQueryBlocks * blocks.BlockSize,
            Preemptions = _scheduler.TotalPreemptions,
            Steps = _steps,
            GeneratedTokens = _generated,
            PromptTokensComputed = _promptComputed,
            PlanMicros = planMicros,
            ForwardMicros = forwardMicros,
            SampleMicros = sampleMicros,
            TrackedSequences = TrackedSequences,
            SamplingRows = SamplingRows,
        };
    }
}

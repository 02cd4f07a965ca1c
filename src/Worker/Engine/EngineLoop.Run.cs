using System.Diagnostics;
using Inference.Scheduler;
using Inference.Scheduler.Batching;
using Inference.Worker.Runtime;

namespace Inference.Worker.Engine;

public sealed partial class EngineLoop
{
    private readonly Stepper _stepper;
    private long _steps;
    private long _generated;
    private long _promptComputed;

    private void Run()
    {
        while (!_stopping)
        {
            DrainIntake();
            DrainControl();
            if (!_scheduler.HasWork)
            {
                PublishStats(0, 0, 0);
                _wake.Wait();
                continue;
            }

            StepOnce();
        }

        // Shutting down: every live request ends with an error rather than hanging its reader.
        foreach (RequestState state in _live.Values.ToList())
        {
            _scheduler.Abort(state.Request.RequestId);
            Close(state, FinishReason.Error, "the engine is shutting down");
        }
    }

    private void DrainIntake()
    {
        while (_intake.Reader.TryRead(out RequestState? state))
        {
            GenerationRequest r = state.Request;
            var request = new SchedulerRequest
            {
                RequestId = r.RequestId,
                PromptTokens = r.PromptTokens,
                MaxTokens = r.Sampling.MaxTokens,
                Class = r.Class,
                Priority = r.Priority,
                Tenant = r.Tenant,
                N = r.N,
            };
            AdmissionResult result = _scheduler.TryAdd(request, out Sequence? seq);
            if (result != AdmissionResult.Accepted)
            {
                // Submit applied the same rule and the scheduler has no queue bounds here: unreachable
                // unless an invariant broke, so say which.
                Close(state, FinishReason.Error, $"request refused after it was accepted ({result}): an engine invariant was broken");
                continue;
            }

            state.Emitted = new int[r.N];
            seq!.EngineState = state;
            _live[r.RequestId] = state;
        }
    }

    private void DrainControl()
    {
        while (_control.Reader.TryRead(out var message))
        {
            if (!_live.TryGetValue(message.RequestId, out RequestState? state))
            {
                // An abort by id can overtake its request: Submit wrote intake after this iteration drained it.
                // Intake was written before the control message, so draining it again finds the request.
                DrainIntake();
                if (!_live.TryGetValue(message.RequestId, out state))
                {
                    continue; // already finished
                }
            }

            IReadOnlyList<Sequence>? sequences = _scheduler.SequencesOf(message.RequestId);
            if (message.Choice < 0)
            {
                _scheduler.Abort(message.RequestId);
                Close(state, FinishReason.Abort, null);
                continue;
            }

            if (sequences is null)
            {
                continue;
            }

            foreach (Sequence seq in sequences.ToList())
            {
                if (seq.Index == message.Choice)
                {
                    _scheduler.Finish(seq, message.Reason);
                    OnChoiceFinished(state, seq);
                }
            }
        }
    }

    private void StepOnce()
    {
        long t0 = Stopwatch.GetTimestamp();
        StepPlan plan = _scheduler.Schedule();
        long t1 = Stopwatch.GetTimestamp();
        foreach (Sequence preempted in plan.Preempted)
        {
            if (preempted.EngineState is RequestState ps)
            {
                ps.Preemptions++;
            }
        }

        if (plan.IsEmpty)
        {
            // Nothing fits right now (e.g. every running sequence waits for memory): yield briefly.
            PublishStats(0, 0, 0);
            _wake.Wait(1);
            return;
        }

        long now = _time.GetTimestamp();
        MarkFirstScheduled(plan, now);
        (double forwardMicros, double sampleMicros, string? error) = _stepper.Run(plan, now);
        _steps++;
        if (error is not null)
        {
            FailPlan(plan, error);
        }

        _scheduler.Complete(plan);
        EmitAndRetire(plan);
        PublishStats(Stopwatch.GetElapsedTime(t0, t1).TotalMicroseconds, forwardMicros, sampleMicros);
    }

    // Queue time ends when a request is first planned, before its forward runs (vLLM's queued -> scheduled
    // interval); TTFT ends after the forward that samples its first token, so a long prefill counts in TTFT only.
    private void MarkFirstScheduled(StepPlan plan, long now)
    {
        List<ScheduledChunk> chunks = plan.Chunks;
        for (int i = 0; i < chunks.Count; i++)
        {
            Sequence seq = chunks[i].Sequence;
            if (seq.EngineState is RequestState state && !state.Closed && state.FirstScheduled < 0)
            {
                state.FirstScheduled = now;
                state.CachedPromptTokens = seq.NumCachedTokens;
                LeaveQueue(state);
            }
        }
    }

    private void FailPlan(StepPlan plan, string error)
    {
        foreach (ScheduledChunk chunk in plan.Chunks)
        {
            foreach (Sequence seq in chunk.SampleInto)
            {
                if (seq.EngineState is RequestState state && !seq.IsFinished)
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
            if (chunk.Sequence.EngineState is not RequestState state || state.Closed)
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
                sampleInto[k].EngineState ??= state;
                Emit(state, sampleInto[k], now);
            }
        }
    }

    private void Emit(RequestState state, Sequence seq, long now)
    {
        if (state.Closed)
        {
            return;
        }

        int choice = seq.Index;
        int produced = seq.OutputLength;

        // After a preemption the recompute re-derives tokens the reader already has: send only new ones.
        if (produced > state.Emitted[choice])
        {
            int token = seq.Tokens[^1];
            (float logprob, TokenLogprob[]? top) = _stepper.LogprobsOf(seq);
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
            LeaveQueue(state);
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
        _live.Remove(state.Request.RequestId);
        _ids.TryRemove(state.Request.RequestId, out _);
    }

    // Submit counts a request against the queue limits until it is first scheduled (or ends unscheduled).
    private void LeaveQueue(RequestState state)
    {
        Interlocked.Decrement(ref _queuedRequests);
        Interlocked.Add(ref _queuedTokens, -state.Request.PromptTokens.Count);
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
            LiveRequests = _live.Count + _intake.Reader.Count,
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
        };
    }
}

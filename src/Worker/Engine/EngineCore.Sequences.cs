using Inference.Scheduler;

namespace Inference.Worker.Engine;

public sealed partial class EngineCore
{
    // Typed state per live sequence, indexed by Sequence.EngineSlot; freed slots are reused.
    private readonly List<SequenceState?> _sequences = [];
    private readonly Stack<int> _freeSlots = new();

    /// <summary>The state of a tracked sequence; null for one the engine has not seen yet (a new fork) or has released.</summary>
    private SequenceState? StateOf(Sequence seq)
    {
        int slot = seq.EngineSlot;
        return slot >= 0 && _sequences[slot] is { } state && ReferenceEquals(state.Sequence, seq) ? state : null;
    }

    private SequenceState Track(Sequence seq, RequestState request)
    {
        // Validate compiled the grammar, so this is a cache hit (or a recompile if it was evicted meanwhile).
        var state = new SequenceState(seq, request)
        {
            Matcher = request.Request.Grammar is { } grammar ? _runtime.Constraints.Compile(grammar).CreateMatcher() : null,
        };
        if (_freeSlots.TryPop(out int slot))
        {
            _sequences[slot] = state;
        }
        else
        {
            slot = _sequences.Count;
            _sequences.Add(state);
        }

        seq.EngineSlot = slot;
        request.Sequences.Add(state);
        return state;
    }

    // The sequence left the running batch (preempted): its sampling row goes; it rejoins with its history when it
    // next samples.
    private void LeaveBatch(SequenceState state)
    {
        if (state.Row >= 0)
        {
            _executor.Batch.Leave(state.Row);
            state.Row = -1;
        }
    }

    // The sequence ended (finished, aborted, or its request closed).
    private void Untrack(SequenceState state)
    {
        LeaveBatch(state);
        int slot = state.Sequence.EngineSlot;
        if (slot >= 0 && ReferenceEquals(_sequences[slot], state))
        {
            _sequences[slot] = null;
            _freeSlots.Push(slot);
            state.Sequence.EngineSlot = -1;
        }
    }

    /// <summary>Sequences the engine tracks (tests: zero once every request has ended).</summary>
    internal int TrackedSequences => _sequences.Count - _freeSlots.Count;

    /// <summary>Rows of the sampling batch in use (tests: zero once every request has ended).</summary>
    internal int SamplingRows => _executor.Batch.Count;
}

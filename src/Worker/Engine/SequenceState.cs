using Inference.Scheduler;

namespace Inference.Worker.Engine;

/// <summary>The engine's typed state for one sequence (a choice of a request), found by its <see cref="Sequence.EngineSlot"/>.</summary>
internal sealed class SequenceState
{
    public SequenceState(Sequence sequence, RequestState request)
    {
        Sequence = sequence;
        Request = request;
    }

    public Sequence Sequence { get; }

    public RequestState Request { get; }

    /// <summary>Where its output stands in the request's grammar; null when unconstrained.</summary>
    public Constraints.GrammarMatcher? Matcher { get; init; }

    /// <summary>Its row in the sampling batch while it runs (-1: none; it joins when next sampled).</summary>
    public int Row { get; set; } = -1;

    /// <summary>Its position among the last step's sampled rows (-1: not sampled in that step).</summary>
    public int Target { get; set; } = -1;
}

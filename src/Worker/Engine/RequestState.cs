using System.Threading.Channels;

namespace Inference.Worker.Engine;

/// <summary>The loop's bookkeeping for one request (owned by the loop thread after intake).</summary>
internal sealed class RequestState
{
    public RequestState(GenerationRequest request, Channel<EngineEvent> events, long submitted)
    {
        Request = request;
        Events = events;
        Submitted = submitted;
    }

    public GenerationRequest Request { get; }

    /// <summary>Unbounded so the final events always fit; the loop bounds tokens itself via Reader.Count.</summary>
    public Channel<EngineEvent> Events { get; }

    public ChannelWriter<EngineEvent> Writer => Events.Writer;

    public long Submitted { get; }

    public long FirstScheduled { get; set; } = -1;

    public long FirstToken { get; set; } = -1;

    public int CompletionTokens { get; set; }

    public int CachedPromptTokens { get; set; } = -1;

    public int Preemptions { get; set; }

    public int ChoicesFinished { get; set; }

    /// <summary>Tokens already sent per choice; after a preemption, recomputed tokens are never re-sent.</summary>
    public int[] Emitted { get; set; } = [];

    public bool Closed { get; set; }

    /// <summary>Its sequences that the engine tracks (the first choice, then forks as they first sample).</summary>
    public List<SequenceState> Sequences { get; } = [];
}

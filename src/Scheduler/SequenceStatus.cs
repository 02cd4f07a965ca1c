namespace Inference.Scheduler;

/// <summary>Lifecycle: Waiting -> Running (prefill in chunks, then decode) -> Finished; Running -> Preempted -> Running.</summary>
public enum SequenceStatus
{
    Waiting,
    Running,
    Preempted,
    Finished,
}

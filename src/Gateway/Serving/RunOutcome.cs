using Inference.Scheduler;

namespace Inference.Gateway.Serving;

/// <summary>How a run ended, for usage records, metrics and the response's usage object. Filled while the run streams.</summary>
public sealed class RunOutcome
{
    private readonly FinishReason[] _finish;

    public RunOutcome(int choices)
    {
        _finish = new FinishReason[choices];
    }

    public int PromptTokens { get; internal set; }

    /// <summary>Tokens generated over all choices (as the workers reported, or counted when a worker was lost).</summary>
    public int CompletionTokens { get; internal set; }

    public int CachedTokens { get; internal set; }

    public TimeSpan QueueTime { get; internal set; }

    public TimeSpan? TimeToFirstToken { get; internal set; }

    /// <summary>Set when the run failed after it started (worker lost, engine error).</summary>
    public string? Error { get; internal set; }

    /// <summary>True once every prompt's usage arrived (the run completed in the workers).</summary>
    public bool Completed { get; internal set; }

    public int Preemptions { get; internal set; }

    public IReadOnlyList<FinishReason> FinishReasons => _finish;

    internal void SetFinish(int index, FinishReason reason)
    {
        if ((uint)index < (uint)_finish.Length)
        {
            _finish[index] = reason;
        }
    }

    /// <summary>The most telling finish reason over the choices (for the usage record): error > length > stop.</summary>
    public FinishReason OverallFinish()
    {
        FinishReason result = FinishReason.None;
        foreach (FinishReason f in _finish)
        {
            if (f > result)
            {
                result = f;
            }
        }

        return result;
    }
}

namespace Inference.Scheduler;

/// <summary>Service class of a request; lower values are served first.</summary>
public enum PriorityClass
{
    /// <summary>Chat and other latency-sensitive traffic (paid tiers).</summary>
    Interactive = 0,

    /// <summary>Ordinary API traffic.</summary>
    Standard = 1,

    /// <summary>Offline and bulk work; runs when nothing else waits.</summary>
    Batch = 2,
}

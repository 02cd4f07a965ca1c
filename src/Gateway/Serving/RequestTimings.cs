namespace Inference.Gateway.Serving;

/// <summary>One request's timings (return_timings), measured by the gateway from admission.</summary>
/// <param name="QueueTime">Time the request waited in the worker before it was scheduled (0 for a cache hit).</param>
/// <param name="TimeToFirstToken">Admission to the first generated token's arrival; null when none was generated.</param>
/// <param name="MeanInterTokenLatency">Mean gap between consecutive tokens of a choice; null with fewer than two.</param>
/// <param name="Latency">Admission to the moment the timings were taken (the response's end).</param>
/// <param name="CacheHit">The answer was replayed from the response cache.</param>
public sealed record RequestTimings(TimeSpan QueueTime, TimeSpan? TimeToFirstToken, TimeSpan? MeanInterTokenLatency, TimeSpan Latency, bool CacheHit);

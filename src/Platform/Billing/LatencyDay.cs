namespace Inference.Platform.Billing;

/// <summary>Percentiles of one UTC day's requests, in milliseconds: time to first token and the whole request (null when none had one).</summary>
public sealed record LatencyDay(DateOnly Day, long Requests, double? TtftP50, double? TtftP95, double LatencyP50, double LatencyP95);

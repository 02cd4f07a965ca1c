namespace Inference.LoadGen.Planning;

/// <summary>One growth phase of the forecast: a name and the concurrent users it expects.</summary>
internal sealed record GrowthPhase(string Name, long ConcurrentUsers);

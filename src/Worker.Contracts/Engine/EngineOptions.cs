using Inference.Scheduler;

namespace Inference.Worker.Engine;

/// <summary>Engine loop settings beyond the scheduler's.</summary>
public sealed record EngineOptions
{
    public SchedulerOptions Scheduler { get; init; } = new();

    /// <summary>
    /// Events buffered per request before the loop gives up on a reader that stopped reading and aborts it.
    /// 4096 tokens is minutes of output for a live client; a stuck one never blocks the loop.
    /// </summary>
    public int MaxBufferedEventsPerRequest { get; init; } = 4096;

    /// <summary>Server secret the per-tenant prefix-cache salt is derived from.</summary>
    public byte[] PrefixCacheSecret { get; init; } = "inference-prefix-cache"u8.ToArray();

    public bool EnablePrefixCaching { get; init; } = true;
}

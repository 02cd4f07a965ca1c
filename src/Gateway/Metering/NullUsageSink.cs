namespace Inference.Gateway.Metering;

/// <summary>Drops usage records (metering disabled with no platform sink).</summary>
public sealed class NullUsageSink : IUsageSink
{
    public static NullUsageSink Instance { get; } = new();

    public ValueTask WriteAsync(UsageRecord record, CancellationToken ct) => ValueTask.CompletedTask;
}

namespace Inference.Gateway.Metering;

/// <summary>Where usage records go: a JSON-lines file by default, the platform's ledger when it runs.</summary>
public interface IUsageSink
{
    /// <summary>Writes one record durably enough for the sink's purpose; safe to call concurrently.</summary>
    ValueTask WriteAsync(UsageRecord record, CancellationToken ct);
}

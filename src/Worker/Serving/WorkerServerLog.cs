using Inference.Scheduler;
using Microsoft.Extensions.Logging;

namespace Inference.Worker.Serving;

/// <summary>The worker daemon's log messages (event ids 1000-1099).</summary>
internal static partial class WorkerServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Worker listening on {Address} (HTTP/2 cleartext)")]
    public static partial void Listening(ILogger logger, Uri address);

    [LoggerMessage(1001, LogLevel.Information, "Serving model {Model} on {Device}: max model length {MaxModelLength}, {KvBlocks} KV blocks x {BlockSize} tokens")]
    public static partial void Serving(ILogger logger, string model, string device, int maxModelLength, int kvBlocks, int blockSize);

    [LoggerMessage(1002, LogLevel.Information, "Draining: refusing new requests, waiting up to {Timeout} for {Active} in-flight requests")]
    public static partial void Draining(ILogger logger, TimeSpan timeout, int active);

    [LoggerMessage(1003, LogLevel.Information, "Drained in {Elapsed}")]
    public static partial void Drained(ILogger logger, TimeSpan elapsed);

    [LoggerMessage(1004, LogLevel.Warning, "Drain timed out after {Timeout} with {Active} requests still in flight; stopping anyway")]
    public static partial void DrainTimedOut(ILogger logger, TimeSpan timeout, int active);

    [LoggerMessage(1005, LogLevel.Debug, "Generate {RequestId} refused ({Kind}): {Reason}")]
    public static partial void GenerateRefused(ILogger logger, string requestId, RefusalKind kind, string reason);

    [LoggerMessage(1006, LogLevel.Debug, "Generate {RequestId} cancelled by the client; aborted")]
    public static partial void GenerateCancelled(ILogger logger, string requestId);

    [LoggerMessage(1007, LogLevel.Information, "Effective settings: {Settings}")]
    public static partial void EffectiveSettings(ILogger logger, string settings);

    [LoggerMessage(1008, LogLevel.Information, "GPU telemetry for {Device}: {Status}")]
    public static partial void GpuTelemetry(ILogger logger, string device, string status);
}

using Inference.Scheduler;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Workers;

/// <summary>Log messages of the gateway's worker clients and pool (event ids 2000-2099).</summary>
internal static partial class WorkersLog
{
    [LoggerMessage(2000, LogLevel.Information, "Worker {Worker} ready: model {Model}")]
    public static partial void WorkerReady(ILogger logger, string worker, string model);

    [LoggerMessage(2001, LogLevel.Warning, "Worker {Worker} is down: {Reason}")]
    public static partial void WorkerDown(ILogger logger, string worker, string reason);

    [LoggerMessage(2002, LogLevel.Information, "Worker {Worker} is draining")]
    public static partial void WorkerDraining(ILogger logger, string worker);

    [LoggerMessage(2003, LogLevel.Debug, "Worker {Worker} not reachable yet: {Reason}")]
    public static partial void WorkerUnreachable(ILogger logger, string worker, string reason);

    [LoggerMessage(2010, LogLevel.Information, "Request {RequestId} refused by worker {Worker} ({Kind}: {Reason}); trying the next one")]
    public static partial void RetryingElsewhere(ILogger logger, string requestId, string worker, RefusalKind kind, string reason);

    [LoggerMessage(2020, LogLevel.Information, "Worker {Worker} added to the pool")]
    public static partial void Added(ILogger logger, string worker);

    [LoggerMessage(2021, LogLevel.Information, "Worker {Worker} leaves the pool: draining, {InFlight} requests in flight")]
    public static partial void Draining(ILogger logger, string worker, int inFlight);

    [LoggerMessage(2022, LogLevel.Information, "Worker {Worker} removed from the pool ({InFlight} requests still running were ended)")]
    public static partial void Removed(ILogger logger, string worker, int inFlight);

    [LoggerMessage(2030, LogLevel.Warning, "Worker discovery: resolving {Name} failed ({Reason}); keeping the {Count} workers known")]
    public static partial void ResolveFailed(ILogger logger, string name, string reason, int count);
}

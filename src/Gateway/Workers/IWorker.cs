using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Workers;

/// <summary>Where a worker stands, as the gateway sees it.</summary>
public enum WorkerState
{
    /// <summary>Not yet connected or loading.</summary>
    Starting,

    /// <summary>Serving and reporting progress.</summary>
    Ready,

    /// <summary>Finishing in-flight requests, refusing new ones.</summary>
    Draining,

    /// <summary>Unreachable or failed its health checks.</summary>
    Down,
}

/// <summary>
/// A worker as the gateway uses it: in-process (<see cref="LocalWorker"/>) or a worker daemon over gRPC.
/// Both behave the same; the gateway's tests run against both.
/// </summary>
public interface IWorker : IAsyncDisposable
{
    /// <summary>Stable name for logs, metrics and routing ("local" or the daemon's URL).</summary>
    string Id { get; }

    /// <summary>Model facts; null until the worker is first reached.</summary>
    WorkerInfo? Info { get; }

    WorkerState State { get; }

    /// <summary>The latest load report (queue, running, KV use), or null before the first one.</summary>
    EngineStats? Load { get; }

    /// <summary>When the latest load report arrived (to tell a stalled worker from an idle one).</summary>
    DateTimeOffset LoadAt { get; }

    Task<int[]> TokenizeAsync(string text, bool addSpecialTokens, CancellationToken cancellationToken);

    /// <summary>Renders the model's chat template and tokenizes it; WorkerException(Invalid) when the model has none.</summary>
    Task<int[]> ApplyChatTemplateAsync(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools, CancellationToken cancellationToken);

    Task<string> DetokenizeAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken);

    /// <summary>
    /// Runs a request. A refusal throws <see cref="WorkerException"/> from the first MoveNextAsync, before any
    /// event (so a router may retry elsewhere); cancelling or abandoning the enumeration aborts the request in
    /// the worker. A worker lost mid-stream ends the enumeration with a WorkerException(Unavailable).
    /// </summary>
    IAsyncEnumerable<ServedEvent> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken);
}

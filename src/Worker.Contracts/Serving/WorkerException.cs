using Inference.Scheduler;

namespace Inference.Worker.Serving;

/// <summary>
/// A refusal (thrown before the first event) or a failure of a worker call. It carries the
/// <see cref="Scheduler.Refusal"/> decided where the rule lives, unchanged, across the worker's gRPC hop
/// (<see cref="WorkerErrorMapping"/>) to the gateway's edges.
/// </summary>
public sealed class WorkerException : Exception
{
    public WorkerException(Refusal refusal)
        : base(refusal?.Message)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        Refusal = refusal;
    }

    public WorkerException(RefusalKind kind, string message, string? param = null)
        : this(new Refusal(kind, message) { Param = param })
    {
    }

    public WorkerException()
        : this(RefusalKind.Failed, "worker error")
    {
    }

    public WorkerException(string message)
        : this(RefusalKind.Failed, message)
    {
    }

    public WorkerException(string message, Exception innerException)
        : base(message, innerException)
    {
        Refusal = new Refusal(RefusalKind.Failed, message);
    }

    public Refusal Refusal { get; }

    public RefusalKind Kind => Refusal.Kind;

    /// <summary>The request parameter at fault, for Invalid (e.g. "max_tokens", "messages").</summary>
    public string? Param => Refusal.Param;

    /// <summary>True when another worker (or a later attempt) might accept the request.</summary>
    public bool Retryable => Refusal.Retryable;
}

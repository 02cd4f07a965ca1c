namespace Inference.Worker.Serving;

/// <summary>Why a worker refused or failed a request; the gateway maps kinds to HTTP/gRPC statuses.</summary>
public enum WorkerErrorKind
{
    /// <summary>The request can never run here (too long, bad token ids, no chat template): 400 / INVALID_ARGUMENT.</summary>
    Invalid,

    /// <summary>Queues full; another worker or a later retry may succeed: 503 / UNAVAILABLE (retryable).</summary>
    Overloaded,

    /// <summary>The worker is draining or unreachable: retry elsewhere.</summary>
    Unavailable,

    /// <summary>The worker failed while running the request.</summary>
    Failed,
}

/// <summary>A refusal (thrown before the first event) or a failure of a worker call.</summary>
public sealed class WorkerException : Exception
{
    public WorkerException(WorkerErrorKind kind, string message, string? param = null)
        : base(message)
    {
        Kind = kind;
        Param = param;
    }

    public WorkerException()
        : this(WorkerErrorKind.Failed, "worker error")
    {
    }

    public WorkerException(string message)
        : this(WorkerErrorKind.Failed, message)
    {
    }

    public WorkerException(string message, Exception innerException)
        : base(message, innerException)
    {
        Kind = WorkerErrorKind.Failed;
    }

    public WorkerErrorKind Kind { get; }

    /// <summary>The request parameter at fault, for Invalid (e.g. "max_tokens", "messages").</summary>
    public string? Param { get; }

    /// <summary>True when another worker (or a later attempt) might accept the request.</summary>
    public bool Retryable => Kind is WorkerErrorKind.Overloaded or WorkerErrorKind.Unavailable;
}

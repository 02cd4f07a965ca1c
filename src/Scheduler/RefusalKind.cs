namespace Inference.Scheduler;

/// <summary>What a refusal means for the caller; the edges map it to an HTTP status or a gRPC code.</summary>
public enum RefusalKind
{
    /// <summary>The request can never run as sent (a bad parameter, too long for the context or the cache): 400 / INVALID_ARGUMENT.</summary>
    Invalid,

    /// <summary>Queues are full; a later retry or another worker may succeed: 503 / RESOURCE_EXHAUSTED, retryable.</summary>
    Overloaded,

    /// <summary>The worker is draining, shutting down or unreachable: retry elsewhere.</summary>
    Unavailable,

    /// <summary>The worker failed while running the request.</summary>
    Failed,
}

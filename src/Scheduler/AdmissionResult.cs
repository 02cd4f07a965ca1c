namespace Inference.Scheduler;

/// <summary>Whether a request was queued; when refused, why (the gateway maps refusals to 503 + Retry-After).</summary>
public enum AdmissionResult
{
    Accepted,

    /// <summary>max_queued_requests reached.</summary>
    QueueFull,

    /// <summary>max_queued_tokens would be exceeded.</summary>
    QueueTokensFull,

    /// <summary>The prompt plus max_tokens can never fit: the <see cref="AdmissionRule"/> refuses it.</summary>
    TooLargeForCache,

    /// <summary>A request with the same id is already in the system.</summary>
    DuplicateId,
}

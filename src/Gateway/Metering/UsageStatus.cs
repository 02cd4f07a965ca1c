namespace Inference.Gateway.Metering;

/// <summary>How a request ended; written in snake_case ("completed", "cancelled", "failed", "rejected").</summary>
public enum UsageStatus
{
    /// <summary>Finished normally (stop, length, ...), including response-cache hits.</summary>
    Completed,

    /// <summary>The client went away or cancelled.</summary>
    Cancelled,

    /// <summary>Server or worker error.</summary>
    Failed,

    /// <summary>Refused before running (limits, validation).</summary>
    Rejected,
}

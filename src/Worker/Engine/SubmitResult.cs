namespace Inference.Worker.Engine;

/// <summary>Outcome of handing a request to the engine; refusals say why (the gateway maps them to 400/503).</summary>
public enum SubmitStatus
{
    Accepted,

    /// <summary>Intake or the waiting queue is full; retry later (503 + Retry-After).</summary>
    Overloaded,

    /// <summary>The request can never run (too long for the context or the KV cache) (400).</summary>
    Invalid,

    /// <summary>The engine is shutting down.</summary>
    ShuttingDown,
}

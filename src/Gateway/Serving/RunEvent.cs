using Inference.Worker.Serving;

namespace Inference.Gateway.Serving;

/// <summary>One event of a running request: <paramref name="Index"/> is the OpenAI choice index (prompt * n + choice), -1 for request-level events.</summary>
public readonly record struct RunEvent(int Index, ServedEvent Event);

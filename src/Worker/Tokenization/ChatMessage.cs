namespace Inference.Worker.Tokenization;

/// <summary>One chat turn: <paramref name="Role"/> is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

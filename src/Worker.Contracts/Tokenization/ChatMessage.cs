namespace Inference.Worker.Tokenization;

/// <summary>
/// One chat turn as the OpenAI API carries it. <paramref name="Role"/> is "system", "user", "assistant" or "tool".
/// An assistant turn may carry <paramref name="ToolCalls"/> (its <paramref name="Content"/> is then usually empty);
/// a tool turn carries the result in <paramref name="Content"/> and names the call it answers with
/// <paramref name="ToolCallId"/> (and, for templates that want it, the function <paramref name="Name"/>).
/// </summary>
public sealed record ChatMessage(
    string Role, string Content, IReadOnlyList<ChatToolCall>? ToolCalls = null, string? ToolCallId = null, string? Name = null);

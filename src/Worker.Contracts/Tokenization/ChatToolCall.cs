namespace Inference.Worker.Tokenization;

/// <summary>
/// A function call an assistant turn made. <paramref name="Arguments"/> is the JSON text of the arguments object, as
/// the OpenAI API carries it; the chat template receives it parsed (see <see cref="ChatTemplate"/>).
/// </summary>
public sealed record ChatToolCall(string Id, string Name, string Arguments);

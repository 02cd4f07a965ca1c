namespace Inference.Worker.Tokenization;

/// <summary>
/// A function the model may call: OpenAI's <c>{"type": "function", "function": {name, description, parameters}}</c>.
/// <paramref name="ParametersJson"/> is the JSON Schema of the arguments as JSON text; null members are left out of
/// what the template sees, as a client that omits them would send.
/// </summary>
public sealed record ChatTool(string Name, string? Description = null, string? ParametersJson = null);

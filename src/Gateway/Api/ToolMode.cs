namespace Inference.Gateway.Api;

/// <summary>How a chat request's output relates to its tools (OpenAI's tool_choice).</summary>
public enum ToolMode
{
    /// <summary>No tools, or tool_choice "none": the output is text.</summary>
    None,

    /// <summary>tool_choice "auto": text, with calls parsed from the model's own call format.</summary>
    Auto,

    /// <summary>tool_choice "required": one or more calls, enforced by constrained decoding.</summary>
    Required,

    /// <summary>A named function: exactly one call of it, its arguments enforced by constrained decoding.</summary>
    Named,
}

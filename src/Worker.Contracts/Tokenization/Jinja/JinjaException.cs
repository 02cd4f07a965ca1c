namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// A chat template failed to parse or to render. The message names the template line; <see cref="Line"/> holds it
/// (0 when no line applies, e.g. a limit hit while writing output).
/// </summary>
internal class JinjaException : Exception
{
    public JinjaException(string message, int line, Exception? inner = null)
        : base(line > 0 ? $"chat template line {line}: {message}" : $"chat template: {message}", inner)
    {
        Line = line;
        Detail = message;
    }

    public int Line { get; }

    /// <summary>The message without the line prefix.</summary>
    public string Detail { get; }
}

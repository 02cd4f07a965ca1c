namespace Inference.Worker.Tokenization.Jinja;

/// <summary>The template text is not valid Jinja (or uses a construct this interpreter does not support).</summary>
internal sealed class JinjaSyntaxException : JinjaException
{
    public JinjaSyntaxException(string message, int line)
        : base("syntax error: " + message, line)
    {
    }
}

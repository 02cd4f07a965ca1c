namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// The template called raise_exception(message): it refuses this conversation (transformers' TemplateError).
/// The message is the template's own text, unprefixed, since it is written for the client.
/// </summary>
internal sealed class JinjaRaisedException : JinjaException
{
    public JinjaRaisedException(string message, int line)
        : base(message, line)
    {
    }

    public override string Message => Detail;
}

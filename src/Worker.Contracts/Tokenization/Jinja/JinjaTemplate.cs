namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// A parsed Jinja template (the subset real chat templates use), rendered as jinja2 3.1 renders it under
/// transformers' ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True). Parsing is done once;
/// each <see cref="Render"/> is independent and safe to call concurrently.
/// </summary>
internal sealed class JinjaTemplate
{
    private readonly List<JinjaNode> _body;

    private JinjaTemplate(List<JinjaNode> body)
    {
        _body = body;
    }

    /// <summary>Parses <paramref name="text"/>; throws <see cref="JinjaSyntaxException"/> naming the line.</summary>
    public static JinjaTemplate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new JinjaTemplate(JinjaParser.Parse(text));
    }

    /// <summary>
    /// Renders with <paramref name="variables"/> (values in the model of <see cref="JinjaValues"/>). Throws
    /// <see cref="JinjaRaisedException"/> where the template calls raise_exception and <see cref="JinjaException"/>
    /// for runtime errors and exceeded <paramref name="limits"/>.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, TimeProvider? timeProvider = null, JinjaLimits? limits = null) =>
        JinjaRenderer.Render(_body, variables, limits ?? JinjaLimits.Default, timeProvider ?? TimeProvider.System);
}

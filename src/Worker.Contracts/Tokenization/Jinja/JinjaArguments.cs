namespace Inference.Worker.Tokenization.Jinja;

/// <summary>The argument list of a call, filter or test, as parsed.</summary>
internal sealed record JinjaArguments(List<JinjaExpr> Positional, List<KeyValuePair<string, JinjaExpr>> Named)
{
    public static JinjaArguments None { get; } = new([], []);
}

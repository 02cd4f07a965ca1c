namespace Inference.Worker.Tokenization.Jinja;

/// <summary>namespace(...): the one mutable object templates get; <c>{% set ns.attr = v %}</c> writes through scopes.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

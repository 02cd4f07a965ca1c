namespace Inference.Worker.Tokenization.Jinja;

/// <summary>A statement node of a parsed template.</summary>
internal abstract record JinjaNode(int Line)
{
    public sealed record Text(string Value, int Line) : JinjaNode(Line);

    public sealed record Output(JinjaExpr Expr, int Line) : JinjaNode(Line);

    public sealed record If(List<KeyValuePair<JinjaExpr, List<JinjaNode>>> Branches, List<JinjaNode>? Else, int Line) : JinjaNode(Line);

    /// <summary><c>for target in iter if filter</c>; the target is a name or a tuple of names.</summary>
    public sealed record For(JinjaExpr Target, JinjaExpr Iterable, JinjaExpr? Filter, List<JinjaNode> Body, List<JinjaNode>? Else, int Line) : JinjaNode(Line);

    /// <summary><c>set target = value</c>; the target is a name, a tuple of names, or <c>namespace.attribute</c>.</summary>
    public sealed record Set(JinjaExpr Target, JinjaExpr Value, int Line) : JinjaNode(Line);

    /// <summary><c>{% set name | filters %}body{% endset %}</c>; <see cref="Filter"/> chains down to a null target (the body).</summary>
    public sealed record SetBlock(JinjaExpr Target, JinjaExpr? Filter, List<JinjaNode> Body, int Line) : JinjaNode(Line);

    public sealed record Macro(string Name, List<KeyValuePair<string, JinjaExpr?>> Parameters, List<JinjaNode> Body, int Line) : JinjaNode(Line);

    public sealed record FilterBlock(JinjaExpr Filter, List<JinjaNode> Body, int Line) : JinjaNode(Line);

    /// <summary>transformers' <c>{% generation %}</c> (AssistantTracker): renders its body; the mask it records is not needed here.</summary>
    public sealed record Generation(List<JinjaNode> Body, int Line) : JinjaNode(Line);

    public sealed record Break(int Line) : JinjaNode(Line);

    public sealed record Continue(int Line) : JinjaNode(Line);
}

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>An expression node; <see cref="Line"/> is where it starts, for error messages.</summary>
internal abstract record JinjaExpr(int Line)
{
    public sealed record Literal(object? Value, int Line) : JinjaExpr(Line);

    public sealed record Name(string Identifier, int Line) : JinjaExpr(Line);

    public sealed record ListLiteral(List<JinjaExpr> Items, int Line) : JinjaExpr(Line);

    public sealed record TupleLiteral(List<JinjaExpr> Items, int Line) : JinjaExpr(Line);

    public sealed record DictLiteral(List<KeyValuePair<JinjaExpr, JinjaExpr>> Items, int Line) : JinjaExpr(Line);

    /// <summary><c>x.name</c>: attribute first, then item (jinja2's getattr).</summary>
    public sealed record GetAttr(JinjaExpr Target, string Attribute, int Line) : JinjaExpr(Line);

    /// <summary><c>x[key]</c>: item first, then attribute (jinja2's getitem).</summary>
    public sealed record GetItem(JinjaExpr Target, JinjaExpr Key, int Line) : JinjaExpr(Line);

    public sealed record Slice(JinjaExpr Target, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step, int Line) : JinjaExpr(Line);

    public sealed record Call(JinjaExpr Target, JinjaArguments Arguments, int Line) : JinjaExpr(Line);

    /// <summary><c>x | name(args)</c>; <see cref="Target"/> is null inside a filter block or block set, where the body is the input.</summary>
    public sealed record Filter(JinjaExpr? Target, string FilterName, JinjaArguments Arguments, int Line) : JinjaExpr(Line);

    public sealed record Test(JinjaExpr Target, string TestName, JinjaArguments Arguments, bool Negated, int Line) : JinjaExpr(Line);

    /// <summary>"not", "-" or "+".</summary>
    public sealed record Unary(string Operator, JinjaExpr Operand, int Line) : JinjaExpr(Line);

    /// <summary>Arithmetic ("+", "-", "*", "/", "//", "%", "**") and the short-circuit "and" / "or".</summary>
    public sealed record Binary(string Operator, JinjaExpr Left, JinjaExpr Right, int Line) : JinjaExpr(Line);

    /// <summary>A comparison chain like Python's: <c>a &lt; b &lt;= c</c>; operators include "in" and "notin".</summary>
    public sealed record Compare(JinjaExpr First, List<KeyValuePair<string, JinjaExpr>> Rest, int Line) : JinjaExpr(Line);

    /// <summary><c>a ~ b ~ c</c>: string concatenation of str() of each.</summary>
    public sealed record Concat(List<JinjaExpr> Items, int Line) : JinjaExpr(Line);

    /// <summary><c>then if test else otherwise</c>; with no else the result is undefined when the test fails.</summary>
    public sealed record Conditional(JinjaExpr TestExpr, JinjaExpr Then, JinjaExpr? Otherwise, int Line) : JinjaExpr(Line);
}

namespace Inference.Worker.Constraints;

/// <summary>A grammar expression as parsed from GBNF text, before it is lowered to <see cref="Grammar"/>'s flat elements.</summary>
internal abstract record GrammarNode
{
    public sealed record Sequence(IReadOnlyList<GrammarNode> Items) : GrammarNode;

    public sealed record Alternatives(IReadOnlyList<GrammarNode> Options) : GrammarNode;

    /// <summary>One code point in any of the inclusive ranges (already complemented when the class was negated).</summary>
    public sealed record Chars(int[] Ranges) : GrammarNode;

    public sealed record Reference(string Name, int Position) : GrammarNode;

    /// <summary>Max -1: unbounded.</summary>
    public sealed record Repeat(GrammarNode Item, int Min, int Max) : GrammarNode;
}

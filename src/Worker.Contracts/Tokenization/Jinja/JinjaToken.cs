namespace Inference.Worker.Tokenization.Jinja;

/// <summary>One lexer token; <see cref="Text"/> is the decoded value for strings and data.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Text, int Line)
{
    public bool Is(JinjaTokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsName(string text) => Kind == JinjaTokenKind.Name && Text == text;

    public bool IsOperator(string text) => Kind == JinjaTokenKind.Operator && Text == text;

    public string Describe() => Kind switch
    {
        JinjaTokenKind.End => "end of template",
        JinjaTokenKind.VariableEnd => "'}}'",
        JinjaTokenKind.BlockEnd => "'%}'",
        JinjaTokenKind.Data => "template data",
        JinjaTokenKind.String => "string literal",
        _ => $"'{Text}'",
    };
}

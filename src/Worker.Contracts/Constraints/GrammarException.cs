namespace Inference.Worker.Constraints;

/// <summary>A grammar, schema or pattern that cannot be compiled; the message says where and why.</summary>
public sealed class GrammarException : Exception
{
    public GrammarException(string message)
        : base(message)
    {
    }
}

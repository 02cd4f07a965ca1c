namespace Inference.Worker.Tokenization;

/// <summary>
/// A tokenizer file parsed but a field is wrong. Thrown by the parsers, which do not know the file path;
/// <see cref="ModelTokenizer.Load"/> turns it into a ModelLoadException naming the file.
/// </summary>
internal sealed class TokenizerFormatException : Exception
{
    public TokenizerFormatException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    public string Field { get; }
}

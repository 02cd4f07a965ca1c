namespace Inference.Gateway.Keys;

/// <summary>A key file that cannot be used; the message names the file, the field ("keys[2].tier") and, when known, the line.</summary>
public sealed class KeyFileException : Exception
{
    /// <summary>Creates the exception; the message reads "{path}: {field}: {problem}", the problem ending in "(line N)" when the line is known.</summary>
    public KeyFileException(string path, string field, string problem, Exception? inner = null, int? line = null)
        : base($"{path}: {field}: {problem}", inner)
    {
        Path = path;
        Field = field;
        Line = line;
    }

    /// <summary>The key file.</summary>
    public string Path { get; }

    /// <summary>JSON path of the offending field, e.g. "keys[2].limits.daily_tokens"; "$" for the whole file.</summary>
    public string Field { get; }

    /// <summary>1-based line of the offending field (or of the syntax error) in the file; null when not about a place in it.</summary>
    public int? Line { get; }
}

namespace Inference.Gateway.Keys;

/// <summary>A key file that cannot be used; the message names the file and the field ("keys[2].tier").</summary>
public sealed class KeyFileException : Exception
{
    /// <summary>Creates the exception; the message reads "{path}: {field}: {problem}".</summary>
    public KeyFileException(string path, string field, string problem, Exception? inner = null)
        : base($"{path}: {field}: {problem}", inner)
    {
        Path = path;
        Field = field;
    }

    /// <summary>The key file.</summary>
    public string Path { get; }

    /// <summary>JSON path of the offending field, e.g. "keys[2].limits.daily_tokens"; "$" for the whole file.</summary>
    public string Field { get; }
}

namespace Inference.Worker.Loading;

/// <summary>
/// A model folder could not be loaded. The message always names the file and, where one applies,
/// the field or tensor at fault, so an operator can fix the folder without reading our code.
/// </summary>
public sealed class ModelLoadException : Exception
{
    public ModelLoadException(string file, string? field, string message, Exception? inner = null)
        : base(Format(file, field, message), inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The file at fault (as given, usually a path inside the model folder).</summary>
    public string File { get; }

    /// <summary>The JSON field, tensor name or header entry at fault, when there is one.</summary>
    public string? Field { get; }

    private static string Format(string file, string? field, string message) =>
        field is null ? $"{file}: {message}" : $"{file}: {field}: {message}";
}

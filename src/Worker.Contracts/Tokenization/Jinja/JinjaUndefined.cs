namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// jinja2's default Undefined: prints as "", is falsy, iterates as empty, has length 0, and fails with
/// <see cref="Hint"/> when its attributes are read or it takes part in arithmetic.
/// </summary>
internal sealed class JinjaUndefined
{
    public JinjaUndefined(string hint)
    {
        Hint = hint;
    }

    /// <summary>jinja2's wording: "'x' is undefined" or "'dict object' has no attribute 'y'".</summary>
    public string Hint { get; }

    public static JinjaUndefined Named(string name) => new($"'{name}' is undefined");

    public override string ToString() => string.Empty;
}

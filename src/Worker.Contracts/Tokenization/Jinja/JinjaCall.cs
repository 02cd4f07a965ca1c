namespace Inference.Worker.Tokenization.Jinja;

/// <summary>The evaluated arguments of one call, with the line it was made on for error messages.</summary>
internal sealed class JinjaCall
{
    public JinjaCall(List<object?> positional, List<KeyValuePair<string, object?>> named, int line)
    {
        Positional = positional;
        Named = named;
        Line = line;
    }

    public List<object?> Positional { get; }

    public List<KeyValuePair<string, object?>> Named { get; }

    public int Line { get; }

    /// <summary>Argument <paramref name="index"/> by position, else by <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Arg(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count)
        {
            return Positional[index];
        }

        foreach (var pair in Named)
        {
            if (pair.Key == name)
            {
                return pair.Value;
            }
        }

        return fallback;
    }

    public bool Has(int index, string name)
    {
        if (index < Positional.Count)
        {
            return true;
        }

        foreach (var pair in Named)
        {
            if (pair.Key == name)
            {
                return true;
            }
        }

        return false;
    }
}

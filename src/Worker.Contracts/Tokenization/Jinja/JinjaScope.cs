namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// A variable frame. As in jinja2, each for-loop iteration and each macro call gets a fresh child frame, so a
/// <c>set</c> inside them is not seen outside (nor by the next iteration); if blocks share their parent's frame.
/// </summary>
internal sealed class JinjaScope
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public JinjaScope(JinjaScope? parent)
    {
        Parent = parent;
    }

    public JinjaScope? Parent { get; }

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }

    public void Set(string name, object? value) => _variables[name] = value;
}

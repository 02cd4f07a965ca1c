namespace Inference.Worker.Tokenization.Jinja;

/// <summary>A function a template can call: a global (range, namespace, raise_exception), a bound method, or a macro.</summary>
internal sealed class JinjaCallable
{
    public JinjaCallable(string name, Func<JinjaCall, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }

    public Func<JinjaCall, object?> Invoke { get; }

    public override string ToString() => $"<function {Name}>";
}

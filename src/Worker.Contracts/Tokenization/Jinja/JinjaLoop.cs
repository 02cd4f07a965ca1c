namespace Inference.Worker.Tokenization.Jinja;

/// <summary>The <c>loop</c> variable inside a for block (jinja2's LoopContext, without recursion).</summary>
internal sealed class JinjaLoop
{
    private readonly IReadOnlyList<object?> _items;

    public JinjaLoop(IReadOnlyList<object?> items)
    {
        _items = items;
    }

    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
        "nextitem" => Index0 < _items.Count - 1 ? _items[Index0 + 1] : new JinjaUndefined("there is no next item"),
        "cycle" => new JinjaCallable("loop.cycle", call =>
            call.Positional.Count == 0 ? throw new JinjaException("no items for cycling given", call.Line) : call.Positional[Index0 % call.Positional.Count]),
        _ => new JinjaUndefined($"'LoopContext' object has no attribute '{name}'"),
    };
}

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>How a statement list finished: normally, or through break / continue (loopcontrols) to the enclosing loop.</summary>
internal enum JinjaFlow
{
    Normal,
    Break,
    Continue,
}

namespace Inference.Platform.Apps;

/// <summary>An input of an app's form: a line of text, a long text (a text area), or one of fixed choices.</summary>
public enum AppFieldKind
{
    Text,
    LongText,
    Choice,
}

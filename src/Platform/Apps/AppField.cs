namespace Inference.Platform.Apps;

/// <summary>One input of an app's form; its value replaces <c>{{Name}}</c> in the prompts.</summary>
public sealed record AppField(string Name, string Label, AppFieldKind Kind, IReadOnlyList<string>? Options = null, bool Required = true);

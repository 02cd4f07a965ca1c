namespace Inference.Platform.Apps;

/// <summary>A few-shot example: a user turn and the answer the app should give to it.</summary>
public sealed record AppExample(string User, string Assistant);

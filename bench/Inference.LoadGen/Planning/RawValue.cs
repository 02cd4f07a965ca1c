namespace Inference.LoadGen.Planning;

/// <summary>A value as one source gave it, before precedence and range checks.</summary>
/// <param name="Number">The number, for <see cref="SettingKind.Number"/> settings.</param>
/// <param name="Text">The text, for <see cref="SettingKind.Text"/> settings.</param>
/// <param name="Origin">The option or file it was read from (<c>--gpu-price</c>, <c>deploy/plan/x.json</c>).</param>
internal readonly record struct RawValue(double? Number, string? Text, string Origin);

namespace Inference.LoadGen.Planning;

/// <summary>What a plan setting holds.</summary>
internal enum SettingKind
{
    /// <summary>A finite number, checked against the setting's range.</summary>
    Number,

    /// <summary>A non-empty string.</summary>
    Text,
}

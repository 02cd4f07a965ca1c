namespace Inference.Gateway.Keys;

/// <summary>What one <see cref="ReloadingKeyStore.Reload"/> did.</summary>
/// <param name="Outcome">Unchanged, reloaded or refused.</param>
/// <param name="Keys">Keys in use afterwards.</param>
/// <param name="Error">Why the file was refused (names the file, field and line); null otherwise.</param>
public readonly record struct KeyFileReload(KeyFileReloadOutcome Outcome, int Keys, KeyFileException? Error)
{
    /// <summary>Nothing new: the same content as in use, or as already refused.</summary>
    public static KeyFileReload Unchanged => new(KeyFileReloadOutcome.Unchanged, 0, null);
}

namespace Inference.Gateway.Keys;

/// <summary>How a key file reload ended.</summary>
public enum KeyFileReloadOutcome
{
    /// <summary>The content is the one in use, or one already refused.</summary>
    Unchanged,

    /// <summary>New content, valid: its key set is in use now.</summary>
    Reloaded,

    /// <summary>New content that cannot be used (or an unreadable file): the previous key set stays in use.</summary>
    Refused,
}

namespace Inference.Gateway.Keys;

/// <summary>
/// Where the gateway looks up presented API keys. <see cref="FileKeyStore"/> serves a standalone gateway;
/// the platform implements its own over its database. Implementations compare hashes in constant time and
/// never log or keep the presented key.
/// </summary>
public interface IKeyStore
{
    /// <summary>Number of keys configured; 0 tells the gateway that authentication is not set up.</summary>
    int Count { get; }

    /// <summary>The key, or <see langword="null"/> when it is unknown, disabled or expired.</summary>
    ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct);
}

namespace Inference.Gateway.Keys;

/// <summary>
/// An API key as the gateway knows it. Never holds the secret: only <see cref="KeyId"/>, a short id derived from
/// the key's SHA-256 (safe for logs and metric labels), and <see cref="DisplayPrefix"/> for people.
/// </summary>
/// <param name="KeyId">First 16 hex digits of the key's SHA-256 (<see cref="KeyHash.KeyIdOf"/>).</param>
/// <param name="DisplayPrefix">What to show people, e.g. "sk-abc…".</param>
/// <param name="Tenant">Tenant (organisation) the key belongs to; tenant limits are shared by its keys.</param>
/// <param name="Tier">Plan of the key: default limits and priority class.</param>
/// <param name="Limits">The key's own limits; set fields override the tier's defaults. Null: tier defaults only.</param>
/// <param name="Name">Human label ("acme-prod").</param>
/// <param name="Disabled">A disabled key is never found by a store.</param>
/// <param name="ExpiresAt">After this instant the key is never found by a store.</param>
/// <param name="App">
/// Set for a publishable app key (embedded in a hosted app's page): the one app it may run. Such a key is refused by
/// every other endpoint (the OpenAI API, gRPC, tokenization).
/// </param>
public sealed record ApiKey(
    string KeyId,
    string DisplayPrefix,
    string Tenant,
    Tier Tier,
    Limits? Limits = null,
    string Name = "",
    bool Disabled = false,
    DateTimeOffset? ExpiresAt = null,
    string? App = null)
{
    /// <summary>True when the key may be used at <paramref name="now"/>: not disabled and not expired.</summary>
    public bool IsUsableAt(DateTimeOffset now) => !Disabled && (ExpiresAt is not { } expires || now < expires);
}

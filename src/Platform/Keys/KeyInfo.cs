using Inference.Gateway.Keys;

namespace Inference.Platform.Keys;

/// <summary>An API key as the management API shows it: never the secret, only its visible prefix. <see cref="AppId"/>: the app it is scoped to, if any.</summary>
public sealed record KeyInfo(
    string Id,
    string OrgId,
    string Name,
    string Prefix,
    string KeyId,
    Limits? Limits,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt,
    string? AppId = null);

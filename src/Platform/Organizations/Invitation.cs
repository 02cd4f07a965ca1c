namespace Inference.Platform.Organizations;

/// <summary>An invitation to join an organization; its token is returned once, at creation.</summary>
public sealed record Invitation(string Id, string OrgId, string Email, Role Role, DateTimeOffset ExpiresAt, DateTimeOffset? AcceptedAt, string? Token = null);

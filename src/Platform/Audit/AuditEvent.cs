namespace Inference.Platform.Audit;

/// <summary>One entry of the append-only audit log.</summary>
public sealed record AuditEvent(string Id, string? OrgId, string? UserId, string Action, string? Target, string? Detail, string? Ip, DateTimeOffset CreatedAt);

namespace Inference.Platform.Apps;

/// <summary>An application of an organization: what app-scoped keys belong to and what its usage is counted by.</summary>
public sealed record App(string Id, string OrgId, string Name, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? ArchivedAt);

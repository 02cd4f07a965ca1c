namespace Inference.Platform.Organizations;

/// <summary>A user's membership of an organization.</summary>
public sealed record Member(string UserId, string Email, string Name, Role Role, DateTimeOffset JoinedAt);

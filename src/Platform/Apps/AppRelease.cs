namespace Inference.Platform.Apps;

/// <summary>A published version of an app: immutable once written.</summary>
public sealed record AppRelease(string AppId, int Version, AppSpec Spec, string CreatedBy, DateTimeOffset CreatedAt);

namespace Inference.Platform.Apps;

/// <summary>A published app as its page and run endpoint see it: the release being served, access rules and its key.</summary>
public sealed record HostedApp(string AppId, string OrgId, string Slug, AppRelease Release, AppAccess Access, string PublicKey);

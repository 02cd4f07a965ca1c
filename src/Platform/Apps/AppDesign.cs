namespace Inference.Platform.Apps;

/// <summary>An app as the builder edits it: the record, its slug and draft, the published version, access and key.</summary>
/// <param name="PublicKey">The publishable app key (it can only run this app, so it is embedded in pages); null before the first publish or preview.</param>
public sealed record AppDesign(App App, string Slug, AppSpec Draft, int? PublishedVersion, AppAccess Access, string? PublicKey, string? PublicKeyId);

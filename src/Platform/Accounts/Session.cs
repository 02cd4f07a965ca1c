namespace Inference.Platform.Accounts;

/// <summary>A dashboard session: the cookie's token (secret) and the CSRF token unsafe requests must echo.</summary>
public sealed record Session(string Token, string CsrfToken, string UserId, DateTimeOffset ExpiresAt);

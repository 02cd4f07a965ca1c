namespace Inference.Platform.Accounts;

/// <summary>What a sign-in or refresh returns: a short JWT access token and a rotating refresh token.</summary>
public sealed record TokenPair(string AccessToken, DateTimeOffset AccessExpiresAt, string RefreshToken, DateTimeOffset RefreshExpiresAt);

namespace Inference.Platform.Accounts;

/// <summary>A person who signs in. Never carries the password hash or the TOTP secret.</summary>
public sealed record User(string Id, string Email, string Name, bool IsAdmin, bool TwoFactorEnabled, DateTimeOffset CreatedAt);

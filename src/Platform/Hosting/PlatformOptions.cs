using Inference.Platform.Accounts;

namespace Inference.Platform.Hosting;

/// <summary>Platform settings (section "Platform" in configuration; command-line flags override).</summary>
public sealed record PlatformOptions
{
    /// <summary>Database: postgres://..., an Npgsql connection string, or a SQLite path; null: data/platform.db.</summary>
    public string? Database { get; init; }

    /// <summary>Folder for everything the platform writes (database, usage spool, mail, backups).</summary>
    public string DataDir { get; init; } = "data";

    /// <summary>Public address of the platform, for links in mail (password reset, invitations).</summary>
    public string PublicUrl { get; init; } = "http://127.0.0.1:8000";

    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; init; } = TimeSpan.FromDays(30);

    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(12);

    public TimeSpan ResetTokenLifetime { get; init; } = TimeSpan.FromMinutes(30);

    public TimeSpan InvitationLifetime { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Consecutive failed sign-ins before the account is locked.</summary>
    public int LockoutThreshold { get; init; } = 5;

    public TimeSpan LockoutDuration { get; init; } = TimeSpan.FromMinutes(15);

    public PasswordHashOptions PasswordHash { get; init; } = new();

    /// <summary>Sign-in, sign-up and reset requests allowed per client address per minute (sliding window).</summary>
    public int AuthRequestsPerMinute { get; init; } = 30;

    /// <summary>How often the gateway's view of keys, plans and limits is reloaded (revocations show within this plus a step).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the budget monitor checks spend against budgets and delivers alerts.</summary>
    public TimeSpan BudgetCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Admin created on first run when both are set (e.g. PLATFORM__ADMINEMAIL / PLATFORM__ADMINPASSWORD).</summary>
    public string? AdminEmail { get; init; }

    public string? AdminPassword { get; init; }

    /// <summary>
    /// The access tokens' HS256 signing key (at least 32 characters; e.g. PLATFORM__JWTSIGNINGKEY from a secret store).
    /// Null: a random key generated into the database at first start (then anyone who can read the database could mint
    /// access tokens). Every replica must use the same one.
    /// </summary>
    public string? JwtSigningKey { get; init; }

    /// <summary>Stripe secret key and webhook signing secret; null: the manual-invoice provider only.</summary>
    public string? StripeApiKey { get; init; }

    public string? StripeWebhookSecret { get; init; }

    /// <summary>Mark session cookies Secure (set when serving over TLS or behind a TLS proxy).</summary>
    public bool SecureCookies { get; init; }

    /// <summary>Every failure, each naming its setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"Platform:{name} must be positive (got {value}).");
            }
        }

        Positive(AccessTokenLifetime, nameof(AccessTokenLifetime));
        Positive(RefreshTokenLifetime, nameof(RefreshTokenLifetime));
        Positive(SessionLifetime, nameof(SessionLifetime));
        Positive(ResetTokenLifetime, nameof(ResetTokenLifetime));
        Positive(InvitationLifetime, nameof(InvitationLifetime));
        Positive(LockoutDuration, nameof(LockoutDuration));
        Positive(BudgetCheckInterval, nameof(BudgetCheckInterval));
        if (RefreshInterval <= TimeSpan.Zero || RefreshInterval > TimeSpan.FromSeconds(4))
        {
            errors.Add($"Platform:RefreshInterval must be in (0, 4 s] so revocations and plan changes apply within 5 s (got {RefreshInterval}).");
        }

        if (AuthRequestsPerMinute < 1)
        {
            errors.Add($"Platform:AuthRequestsPerMinute must be at least 1 (got {AuthRequestsPerMinute}).");
        }

        if (LockoutThreshold < 1)
        {
            errors.Add($"Platform:LockoutThreshold must be at least 1 (got {LockoutThreshold}).");
        }

        if (PasswordHash.MemoryKiB < 8 || PasswordHash.Iterations < 1 || PasswordHash.Parallelism < 1)
        {
            errors.Add("Platform:PasswordHash needs MemoryKiB >= 8, Iterations >= 1 and Parallelism >= 1.");
        }

        if (JwtSigningKey is { Length: < 32 })
        {
            errors.Add($"Platform:JwtSigningKey must have at least 32 characters (got {JwtSigningKey.Length}).");
        }

        if ((AdminEmail is null) != (AdminPassword is null))
        {
            errors.Add("Platform:AdminEmail and Platform:AdminPassword are set together or not at all.");
        }

        if (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out _))
        {
            errors.Add($"Platform:PublicUrl must be an absolute URL (got '{PublicUrl}').");
        }

        return errors;
    }
}

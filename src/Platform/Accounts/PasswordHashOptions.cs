namespace Inference.Platform.Accounts;

/// <summary>Argon2id cost; the defaults are OWASP's Password Storage Cheat Sheet minimum (m=19 MiB, t=2, p=1).</summary>
public sealed record PasswordHashOptions
{
    public int MemoryKiB { get; init; } = 19 * 1024;

    public int Iterations { get; init; } = 2;

    public int Parallelism { get; init; } = 1;
}

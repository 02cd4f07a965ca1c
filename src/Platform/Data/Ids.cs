using System.Security.Cryptography;
using Inference.Gateway.Keys;

namespace Inference.Platform.Data;

/// <summary>
/// Ids and secrets. Ids are "prefix_" plus 20 lowercase base32 characters (time-ordered milliseconds, then random), so
/// they sort by creation and say what they name ("org_", "usr_", "key_"). Secrets are 32 random bytes, base64url;
/// only their SHA-256 is stored.
/// </summary>
public static class Ids
{
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lowercase

    /// <summary>A new id with <paramref name="prefix"/>, ordered by <paramref name="now"/>.</summary>
    public static string New(string prefix, DateTimeOffset now)
    {
        Span<char> chars = stackalloc char[20];
        long ms = now.ToUnixTimeMilliseconds();
        for (int i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(ms & 31)];
            ms >>= 5;
        }

        Span<byte> random = stackalloc byte[10];
        RandomNumberGenerator.Fill(random);
        for (int i = 0; i < 10; i++)
        {
            chars[10 + i] = Alphabet[random[i] & 31];
        }

        return string.Concat(prefix, "_", chars);
    }

    /// <summary>A new secret: 32 random bytes as base64url (43 characters), with an optional prefix (as API keys are made).</summary>
    public static string NewSecret(string prefix = "") => ApiKeyGenerator.Generate(prefix);

    /// <summary>SHA-256 of a secret as lowercase hex: what the database stores instead of the secret (as for API keys).</summary>
    public static string Hash(string secret) => KeyHash.Sha256Hex(secret);
}

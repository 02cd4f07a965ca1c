using System.Buffers.Text;
using System.Security.Cryptography;

namespace Inference.Gateway.Keys;

/// <summary>Makes new API keys for tooling: "sk-" followed by 32 random bytes in base64url (43 characters).</summary>
public static class ApiKeyGenerator
{
    /// <summary>The prefix of generated keys.</summary>
    public const string DefaultPrefix = "sk-";

    /// <summary>A new key from the operating system's cryptographic random source.</summary>
    public static string Generate(string prefix = DefaultPrefix)
    {
        Span<byte> secret = stackalloc byte[32];
        RandomNumberGenerator.Fill(secret);
        return prefix + Base64Url.EncodeToString(secret);
    }

    /// <summary>What to show people for a key: its first 6 characters followed by "…".</summary>
    public static string DisplayPrefixOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.Length <= 6 ? "…" : string.Concat(key.AsSpan(0, 6), "…");
    }
}

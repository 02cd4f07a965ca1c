using System.Security.Cryptography;
using System.Text;

namespace Inference.Gateway.Keys;

/// <summary>SHA-256 of API keys, the ids derived from it, and constant-time comparison.</summary>
public static class KeyHash
{
    /// <summary>Length of a SHA-256 in bytes.</summary>
    public const int Length = 32;

    /// <summary>Length of <see cref="KeyIdOf"/> in hex digits.</summary>
    public const int KeyIdLength = 16;

    /// <summary>SHA-256 of the key's UTF-8 bytes.</summary>
    public static byte[] Sha256(string presentedKey)
    {
        ArgumentNullException.ThrowIfNull(presentedKey);
        return SHA256.HashData(Encoding.UTF8.GetBytes(presentedKey));
    }

    /// <summary>SHA-256 of the key's UTF-8 bytes as 64 lowercase hex digits.</summary>
    public static string Sha256Hex(string presentedKey) => Convert.ToHexStringLower(Sha256(presentedKey));

    /// <summary>The short key id: first <see cref="KeyIdLength"/> lowercase hex digits of the hash.</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> sha256) => Convert.ToHexStringLower(sha256[..(KeyIdLength / 2)]);

    /// <summary>Parses 64 hex digits (either case) into a hash.</summary>
    public static bool TryParseHex(string? hex, out byte[] sha256)
    {
        sha256 = [];
        if (hex is null || hex.Length != Length * 2)
        {
            return false;
        }

        try
        {
            sha256 = Convert.FromHexString(hex);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Compares two hashes in time that depends only on their lengths.</summary>
    public static bool FixedTimeEquals(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right) =>
        CryptographicOperations.FixedTimeEquals(left, right);
}

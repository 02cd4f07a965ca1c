using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace Inference.Platform.Accounts;

/// <summary>
/// Argon2id password hashes in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash), with OWASP's
/// minimum parameters by default (19 MiB, 2 iterations, 1 lane). Verification reads the parameters from the stored
/// string, so raising them later keeps old hashes valid (<see cref="NeedsRehash"/> says when to re-hash at sign-in).
/// </summary>
public sealed class PasswordHasher(PasswordHashOptions options)
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>A PHC string for <paramref name="password"/> with a fresh salt.</summary>
    public string Hash(string password)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        byte[] hash = Compute(password, salt, options.MemoryKiB, options.Iterations, options.Parallelism);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={options.MemoryKiB},t={options.Iterations},p={options.Parallelism}${B64(salt)}${B64(hash)}");
    }

    /// <summary>True when <paramref name="password"/> matches <paramref name="stored"/> (constant-time comparison).</summary>
    public static bool Verify(string password, string stored)
    {
        if (!TryParse(stored, out int m, out int t, out int p, out byte[] salt, out byte[] expected))
        {
            return false;
        }

        byte[] actual = Compute(password, salt, m, t, p, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>True when <paramref name="stored"/> was made with weaker parameters than the current ones.</summary>
    public bool NeedsRehash(string stored) =>
        !TryParse(stored, out int m, out int t, out int p, out _, out _)
        || m < options.MemoryKiB || t < options.Iterations || p != options.Parallelism;

    private static byte[] Compute(string password, byte[] salt, int memoryKiB, int iterations, int parallelism, int length = HashBytes)
    {
        using var argon = new Argon2id(Encoding.UTF8.GetBytes(password))
        {
            Salt = salt,
            MemorySize = memoryKiB,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };
        return argon.GetBytes(length);
    }

    private static bool TryParse(string stored, out int m, out int t, out int p, out byte[] salt, out byte[] hash)
    {
        m = t = p = 0;
        salt = hash = [];
        string[] parts = stored.Split('$');
        if (parts.Length != 6 || parts[1] != "argon2id" || parts[2] != "v=19")
        {
            return false;
        }

        foreach (string setting in parts[3].Split(','))
        {
            string[] kv = setting.Split('=', 2);
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value <= 0)
            {
                return false;
            }

            switch (kv[0])
            {
                case "m": m = value; break;
                case "t": t = value; break;
                case "p": p = value; break;
                default: return false;
            }
        }

        try
        {
            salt = FromB64(parts[4]);
            hash = FromB64(parts[5]);
        }
        catch (FormatException)
        {
            return false;
        }

        // Bounds keep a tampered row from costing gigabytes or hours to verify.
        return m is >= 8 and <= 1 << 20 && t is >= 1 and <= 16 && p is >= 1 and <= 16 && salt.Length >= 8 && hash.Length >= 16;
    }

    // PHC strings use standard base64 without padding.
    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static byte[] FromB64(string text) => Convert.FromBase64String(text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));
}

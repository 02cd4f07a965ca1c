namespace Inference.Worker.Engine;

/// <summary>
/// The prefix-cache secret from a file (a mounted Kubernetes Secret): its bytes, without a trailing newline. The
/// workers key their per-tenant prefix-cache salts with it; a gateway given the same file hashes prompts for
/// prefix-affinity routing exactly as the workers do.
/// </summary>
public static class PrefixCacheSecret
{
    public const int MinimumBytes = 16;

    /// <summary>Reads the secret; ArgumentException naming the file when it is shorter than 16 bytes.</summary>
    public static byte[] Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = File.ReadAllBytes(path);
        int length = bytes.Length;
        while (length > 0 && bytes[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }

        return length >= MinimumBytes ? bytes[..length]
            : throw new ArgumentException($"{path}: the prefix-cache secret must be at least {MinimumBytes} bytes, the file has {length} (after trailing newlines); generate one with: head -c 32 /dev/urandom | base64 > {Path.GetFileName(path)}");
    }

    /// <summary>Describes a secret for logs without revealing it.</summary>
    public static string Describe(byte[] secret) => secret is null ? "none" : $"{secret.Length} bytes";

}

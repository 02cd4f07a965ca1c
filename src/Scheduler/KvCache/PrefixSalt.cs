using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Inference.Scheduler.KvCache;

/// <summary>
/// Derives the per-tenant salt that seeds prefix-cache hashes, so that tenants never share cached
/// prefixes and cannot learn from a cache hit's lower latency what another tenant sent. Compute it
/// once per request (it runs an HMAC), never per block.
/// </summary>
public static class PrefixSalt
{
    // Domain separation: the same server secret may key other HMACs.
    private static ReadOnlySpan<byte> Label => "inference/kv-prefix-salt/v1\0"u8;

    /// <summary>
    /// HMAC-SHA256(<paramref name="serverSecret"/>, label || UTF-8 tenant), truncated to its first
    /// 64 bits (little-endian). Stable across processes for the same secret and tenant.
    /// </summary>
    /// <param name="serverSecret">The server's secret key (at least 16 bytes); never sent to clients.</param>
    /// <param name="tenant">The tenant id, as authenticated by the gateway.</param>
    public static ulong For(ReadOnlySpan<byte> serverSecret, string tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        if (serverSecret.Length < 16)
        {
            throw new ArgumentException("The server secret must be at least 16 bytes.", nameof(serverSecret));
        }

        int length = Label.Length + Encoding.UTF8.GetMaxByteCount(tenant.Length);
        byte[]? rented = null;
        Span<byte> message = length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            Label.CopyTo(message);
            int written = Label.Length + Encoding.UTF8.GetBytes(tenant, message[Label.Length..]);
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(serverSecret, message[..written], mac);
            return BinaryPrimitives.ReadUInt64LittleEndian(mac);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

using System.Collections.Concurrent;

namespace Inference.Gateway.Keys;

/// <summary>
/// A short-lived cache in front of a slower <see cref="IKeyStore"/> (the platform's database): found keys for
/// <c>positiveTtl</c>, unknown keys for <c>negativeTtl</c> so that a flood of bad keys does not reach the store.
/// Entries are indexed by the presented key's SHA-256, never by the key itself. Expiry and disabling made in the
/// store show up after at most the TTL; a cached key's own <see cref="ApiKey.ExpiresAt"/> is checked on every hit.
/// </summary>
public sealed class CachingKeyStore : IKeyStore
{
    private readonly IKeyStore _inner;
    private readonly TimeProvider _time;
    private readonly TimeSpan _positiveTtl;
    private readonly TimeSpan _negativeTtl;
    private readonly int _maxEntries;
    private readonly ConcurrentDictionary<string, (ApiKey? Key, long ExpiresAt)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the cache.</summary>
    /// <param name="inner">The store to ask on a miss.</param>
    /// <param name="time">Clock for the TTLs.</param>
    /// <param name="positiveTtl">How long a found key is reused (e.g. 5 s).</param>
    /// <param name="negativeTtl">How long an unknown key stays unknown (e.g. 5 s).</param>
    /// <param name="maxEntries">Bound on cached lookups; the cache is emptied when it is reached.</param>
    public CachingKeyStore(IKeyStore inner, TimeProvider time, TimeSpan positiveTtl, TimeSpan negativeTtl, int maxEntries = 100_000)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(positiveTtl, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(negativeTtl, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        _inner = inner;
        _time = time;
        _positiveTtl = positiveTtl;
        _negativeTtl = negativeTtl;
        _maxEntries = maxEntries;
    }

    /// <inheritdoc/>
    public int Count => _inner.Count;

    /// <inheritdoc/>
    public ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct)
    {
        var hash = KeyHash.Sha256Hex(presentedKey);
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(hash, out var cached) && now.UtcTicks < cached.ExpiresAt)
        {
            return ValueTask.FromResult(cached.Key is { } key && key.IsUsableAt(now) ? key : null);
        }

        return Slow(this, presentedKey, hash, ct);

        static async ValueTask<ApiKey?> Slow(CachingKeyStore self, string presentedKey, string hash, CancellationToken ct)
        {
            var key = await self._inner.FindAsync(presentedKey, ct).ConfigureAwait(false);
            if (self._cache.Count >= self._maxEntries)
            {
                // Coarse bound: a full cache is rare (many distinct keys within one TTL) and refills in one TTL.
                self._cache.Clear();
            }

            var ttl = key is null ? self._negativeTtl : self._positiveTtl;
            self._cache[hash] = (key, (self._time.GetUtcNow() + ttl).UtcTicks);
            return key;
        }
    }
}

namespace Inference.Gateway.Caching;

/// <summary>
/// In-process response cache: least-recently-used eviction bounded by bytes (value length plus key length
/// as UTF-16), per-entry TTL from <see cref="TimeProvider"/>. Thread-safe under one lock; every operation is O(1).
/// </summary>
public sealed class MemoryResponseCache : IResponseCache
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new(); // most recently used first
    private readonly long _maxBytes;
    private readonly TimeProvider _time;
    private long _bytes;
    private long _hits;
    private long _misses;
    private long _evictions;
    private long _expirations;

    /// <summary>Creates a cache holding at most <paramref name="maxBytes"/>.</summary>
    public MemoryResponseCache(long maxBytes, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ArgumentNullException.ThrowIfNull(time);
        _maxBytes = maxBytes;
        _time = time;
    }

    /// <summary>The byte bound.</summary>
    public long MaxBytes => _maxBytes;

    /// <summary>Counters so far.</summary>
    public CacheStatistics GetStatistics()
    {
        lock (_lock)
        {
            return new CacheStatistics(_hits, _misses, _evictions, _expirations, _entries.Count, _bytes);
        }
    }

    /// <inheritdoc/>
    public ValueTask<byte[]?> GetAsync(string key, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                if (now < node.Value.ExpiresAt)
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    _hits++;
                    return ValueTask.FromResult<byte[]?>(node.Value.Value);
                }

                Remove(node);
                _expirations++;
            }

            _misses++;
            return ValueTask.FromResult<byte[]?>(null);
        }
    }

    /// <inheritdoc/>
    public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan ttl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        var size = SizeOf(key, value.Length);
        if (ttl <= TimeSpan.Zero || size > _maxBytes)
        {
            // Too big to ever fit: storing it would only evict everything else.
            return ValueTask.CompletedTask;
        }

        var entry = new Entry(key, value.ToArray(), _time.GetUtcNow() + ttl, size);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var existing))
            {
                Remove(existing);
            }

            while (_bytes + size > _maxBytes && _lru.Last is { } victim)
            {
                Remove(victim);
                _evictions++;
            }

            _entries[key] = _lru.AddFirst(entry);
            _bytes += size;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Bytes an entry counts for.</summary>
    public static long SizeOf(string key, int valueLength)
    {
        ArgumentNullException.ThrowIfNull(key);
        return valueLength + ((long)key.Length * sizeof(char));
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Size;
    }

    private sealed record Entry(string Key, byte[] Value, DateTimeOffset ExpiresAt, long Size);
}

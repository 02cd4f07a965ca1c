using System.Security.Cryptography;
using System.Text;

namespace Inference.Gateway.Keys;

/// <summary>
/// A key file's keys, limits and tiers (<see cref="FileKeyStore"/>) that can be re-read while the gateway runs:
/// <see cref="Reload"/> swaps the whole key set at once when the file's content changed and is valid, and keeps the
/// set in use when the new content is not (or the file cannot be read). <see cref="KeyFileWatcher"/> calls it on file
/// events and on a poll. Lookups read one immutable set, so a request never sees half of an edit.
/// </summary>
public sealed class ReloadingKeyStore : IKeyStore, ILimitsSource
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private FileKeyStore _current;
    private byte[] _loadedHash;
    private byte[]? _refusedHash;

    private ReloadingKeyStore(string path, TimeProvider time, FileKeyStore current, byte[] hash)
    {
        Path = path;
        _time = time;
        _current = current;
        _loadedHash = hash;
    }

    /// <summary>The key file (full path).</summary>
    public string Path { get; }

    /// <summary>The key set in use.</summary>
    public FileKeyStore Current => Volatile.Read(ref _current);

    /// <inheritdoc/>
    public int Count => Current.Count;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="KeyFileException"/> when it cannot be used (at start-up: before a port opens).</summary>
    public static ReloadingKeyStore Load(string path, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(time);
        string fullPath = System.IO.Path.GetFullPath(path);
        byte[] content = Read(fullPath);
        return new ReloadingKeyStore(fullPath, time, Parse(content, fullPath, time), SHA256.HashData(content));
    }

    /// <inheritdoc/>
    public ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct) => Current.FindAsync(presentedKey, ct);

    /// <inheritdoc/>
    public ValueTask<EffectiveLimits> ResolveAsync(ApiKey key, CancellationToken ct) => Current.ResolveAsync(key, ct);

    /// <summary>
    /// Re-reads the file. Unchanged content (or content already refused) is <see cref="KeyFileReload.Unchanged"/>;
    /// valid new content is swapped in (<see cref="KeyFileReload.Reloaded"/>); a file that cannot be read or
    /// parsed keeps the set in use (<see cref="KeyFileReload.Refused"/>, reported once per content). Thread-safe.
    /// </summary>
    public KeyFileReload Reload()
    {
        lock (_gate)
        {
            byte[] content;
            try
            {
                content = Read(Path);
            }
            catch (KeyFileException e)
            {
                // A missing or unreadable file is one refusal until it reappears (an empty hash marks it).
                return Refuse([], e);
            }

            byte[] hash = SHA256.HashData(content);
            if (hash.AsSpan().SequenceEqual(_loadedHash))
            {
                _refusedHash = null;
                return KeyFileReload.Unchanged;
            }

            try
            {
                FileKeyStore next = Parse(content, Path, _time);
                Volatile.Write(ref _current, next);
                _loadedHash = hash;
                _refusedHash = null;
                return new KeyFileReload(KeyFileReloadOutcome.Reloaded, next.Count, null);
            }
            catch (KeyFileException e)
            {
                return Refuse(hash, e);
            }
        }
    }

    private KeyFileReload Refuse(byte[] hash, KeyFileException error)
    {
        if (_refusedHash is { } refused && refused.AsSpan().SequenceEqual(hash))
        {
            return KeyFileReload.Unchanged;
        }

        _refusedHash = hash;
        return new KeyFileReload(KeyFileReloadOutcome.Refused, Current.Count, error);
    }

    private static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyFileException(path, "$", $"cannot read the file ({e.Message})", e);
        }
    }

    private static FileKeyStore Parse(byte[] content, string path, TimeProvider time)
    {
        // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
        using var reader = new StreamReader(new MemoryStream(content), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return FileKeyStore.Parse(reader.ReadToEnd(), path, time);
    }
}

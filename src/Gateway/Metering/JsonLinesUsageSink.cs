namespace Inference.Gateway.Metering;

/// <summary>
/// Appends each record as one JSON line (<see cref="UsageJson"/>) to a file, flushing after every record so that
/// a crash loses at most the record being written. Writers are serialised; records never interleave.
/// </summary>
public sealed class JsonLinesUsageSink : IUsageSink, IAsyncDisposable, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FileStream _file;

    /// <summary>Opens (creating if needed) <paramref name="path"/> for appending.</summary>
    public JsonLinesUsageSink(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        if (System.IO.Path.GetDirectoryName(Path) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0, useAsync: true);
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public async ValueTask WriteAsync(UsageRecord record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        var line = UsageJson.ToLine(record);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Not cancellable once started: half a line would corrupt the file.
            await _file.WriteAsync(line, CancellationToken.None).ConfigureAwait(false);
            await _file.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _file.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _gate.Wait();
        try
        {
            _file.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }
}

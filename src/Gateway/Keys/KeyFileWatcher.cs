using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Keys;

/// <summary>
/// Reloads a <see cref="ReloadingKeyStore"/> while the gateway runs, so that a key removed from (or disabled in) the
/// file stops working within a few seconds: well under <see cref="DefaultPollInterval"/> after a change event, and
/// at most one poll interval (plus a read) when events are lost.
/// </summary>
/// <remarks>
/// Two triggers, both ending in the same content check (SHA-256 of the file; unchanged content does nothing):
/// a <see cref="FileSystemWatcher"/> on the file's directory, not on the file, because editors and deploy tools
/// write a temporary file and rename it over the original (a new file; a watch on the old one would go quiet),
/// debounced by <see cref="Debounce"/> so an in-place rewrite is read once it is complete; and a poll every
/// <see cref="DefaultPollInterval"/>, for filesystems that lose or never send events (network and some container
/// mounts, an exhausted inotify limit). The poll reads the whole file: key files are small (about 200 bytes a key).
/// </remarks>
internal sealed class KeyFileWatcher : IHostedService, IDisposable
{
    /// <summary>How often the file is checked without an event.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(50);

    private readonly ReloadingKeyStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _pollInterval;
    private readonly bool _watchEvents;
    private readonly Lock _gate = new();
    private FileSystemWatcher? _watcher;
    private ITimer? _poll;
    private ITimer? _debounce;
    private bool _stopped;

    /// <param name="store">The store to reload.</param>
    /// <param name="time">Clock for the poll and the debounce.</param>
    /// <param name="logger">Where reloads and refusals are logged.</param>
    /// <param name="pollInterval">Poll period; <see cref="DefaultPollInterval"/> when null.</param>
    /// <param name="watchEvents">False: poll only (tests of the poll path).</param>
    public KeyFileWatcher(ReloadingKeyStore store, TimeProvider time, ILogger<KeyFileWatcher> logger, TimeSpan? pollInterval = null, bool watchEvents = true)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _time = time;
        _logger = logger;
        _pollInterval = pollInterval ?? DefaultPollInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_pollInterval, TimeSpan.Zero, nameof(pollInterval));
        _watchEvents = watchEvents;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            _debounce = _time.CreateTimer(static s => ((KeyFileWatcher)s!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _poll = _time.CreateTimer(static s => ((KeyFileWatcher)s!).Check(), this, _pollInterval, _pollInterval);
            _watcher = _watchEvents ? Watch() : null;
        }

        // An edit between the load at start-up and the watch would otherwise wait for the first poll.
        Check();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Stops watching; idempotent (the host stops it, then the container disposes it).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _watcher?.Dispose();
            _poll?.Dispose();
            _debounce?.Dispose();
            _watcher = null;
        }
    }

    private FileSystemWatcher? Watch()
    {
        string directory = Path.GetDirectoryName(_store.Path)!;
        string name = Path.GetFileName(_store.Path);
        FileSystemWatcher? watcher = null;
        try
        {
            watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            watcher.Changed += (_, e) => OnEvent(e.Name, name);
            watcher.Created += (_, e) => OnEvent(e.Name, name);
            watcher.Deleted += (_, e) => OnEvent(e.Name, name);
            watcher.Renamed += (_, e) =>
            {
                OnEvent(e.Name, name);
                OnEvent(e.OldName, name);
            };
            watcher.Error += (_, _) => Schedule(); // events were lost (buffer overflow): look now
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            watcher?.Dispose();
            KeysLog.NoEvents(_logger, _store.Path, e.Message, _pollInterval.TotalSeconds);
            return null;
        }
    }

    private void OnEvent(string? changed, string name)
    {
        if (string.Equals(changed, name, StringComparison.Ordinal))
        {
            Schedule();
        }
    }

    private void Schedule()
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                _debounce?.Change(Debounce, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Check()
    {
        KeyFileReload result;
        lock (_gate)
        {
            // Under the gate: once Dispose returns, no check is running or will run.
            if (_stopped)
            {
                return;
            }

            try
            {
                result = _store.Reload();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A timer callback must not throw (it would end the process); the keys in use stay.
                KeysLog.CheckFailed(_logger, e, _store.Path);
                return;
            }
        }

        switch (result.Outcome)
        {
            case KeyFileReloadOutcome.Reloaded:
                KeysLog.Reloaded(_logger, _store.Path, result.Keys);
                break;
            case KeyFileReloadOutcome.Refused:
                KeysLog.Refused(_logger, result.Keys, result.Error!.Message);
                break;
        }
    }
}

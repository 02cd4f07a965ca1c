using System.Globalization;
using System.Net;
using Inference.Gateway.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Gateway.Discovery;

/// <summary>Resolves a DNS name to all its addresses (the system resolver by default; tests give their own answers).</summary>
public delegate Task<IPAddress[]> WorkerAddressResolver(string host, CancellationToken cancellationToken);

/// <summary>
/// Worker discovery by DNS: every refresh, each HOST:PORT name is resolved to all its addresses (a Kubernetes headless
/// service answers with one address per ready worker pod) and the pool follows the answer: a new address becomes a
/// worker at http://ADDRESS:PORT, an address that left the answer is drained (no new requests, running ones finish
/// within the drain timeout) and removed. A failed lookup keeps the workers known (a DNS outage must not empty the
/// pool; workers that are really gone are marked Down by their own health checks). Routing is the pool's, unchanged.
/// </summary>
public sealed class DnsWorkerDiscovery : IAsyncDisposable
{
    private readonly WorkerPool _pool;
    private readonly (string Host, int Port)[] _names;
    private readonly TimeSpan _refresh;
    private readonly TimeSpan _drainTimeout;
    private readonly Func<Uri, IWorker> _createWorker;
    private readonly WorkerAddressResolver _resolve;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, IWorker> _discovered = [];
    private readonly HashSet<string>[] _answers;
    private readonly List<Task> _drains = [];
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public DnsWorkerDiscovery(
        WorkerPool pool, IEnumerable<string> names, TimeSpan refresh, TimeSpan drainTimeout, Func<Uri, IWorker> createWorker,
        WorkerAddressResolver? resolve = null, TimeProvider? time = null, ILogger<DnsWorkerDiscovery>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(createWorker);
        _pool = pool;
        _names = [.. names.Select(n => TryParse(n, out string host, out int port) ? (host, port) : throw new ArgumentException($"worker DNS name '{n}' is not HOST:PORT", nameof(names)))];
        _refresh = refresh;
        _drainTimeout = drainTimeout;
        _createWorker = createWorker;
        _answers = [.. _names.Select(_ => new HashSet<string>(StringComparer.Ordinal))];
        _resolve = resolve ?? ((host, ct) => Dns.GetHostAddressesAsync(host, ct));
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<DnsWorkerDiscovery>.Instance;
    }

    /// <summary>The workers discovered and not drained, by URL.</summary>
    public IReadOnlyCollection<string> Known
    {
        get
        {
            lock (_discovered)
            {
                return [.. _discovered.Keys];
            }
        }
    }

    /// <summary>Parses HOST:PORT (a DNS name or an address; [v6]:PORT).</summary>
    public static bool TryParse(string value, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (value is null)
        {
            return false;
        }

        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            return false;
        }

        host = value[..colon].Trim('[', ']');
        return host.Length > 0 && (Uri.CheckHostName(host) != UriHostNameType.Unknown);
    }

    /// <summary>Resolves once and follows the answer, then keeps doing so every refresh until disposed.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>One lookup of every name and the pool brought in line with the answers. Returns the URLs now known.</summary>
    public async Task<IReadOnlyCollection<string>> RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A name whose lookup failed keeps its last answer: only answers remove workers.
            for (int i = 0; i < _names.Length; i++)
            {
                (string host, int port) = _names[i];
                try
                {
                    IPAddress[] addresses = await _resolve(host, cancellationToken).ConfigureAwait(false);
                    _answers[i] = [.. addresses.Select(a => Url(a, port))];
                }
                catch (Exception ex) when (ex is System.Net.Sockets.SocketException or TimeoutException or ArgumentException)
                {
                    WorkersLog.ResolveFailed(_logger, $"{host}:{port}", ex.Message, Known.Count);
                }
            }

            var wanted = new HashSet<string>(_answers.SelectMany(a => a), StringComparer.Ordinal);
            List<string> gone;
            lock (_discovered)
            {
                gone = [.. _discovered.Keys.Where(url => !wanted.Contains(url))];
            }

            foreach (string url in wanted)
            {
                bool add;
                lock (_discovered)
                {
                    add = !_discovered.ContainsKey(url);
                }

                if (add && !_pool.Workers.Any(w => w.Id == WorkerId(url))) // not also given as a fixed --worker
                {
                    IWorker worker = _createWorker(new Uri(url));
                    _pool.Add(worker);
                    lock (_discovered)
                    {
                        _discovered[url] = worker;
                    }
                }
            }

            foreach (string url in gone)
            {
                IWorker worker;
                lock (_discovered)
                {
                    worker = _discovered[url];
                    _discovered.Remove(url);
                }

                lock (_drains)
                {
                    _drains.RemoveAll(t => t.IsCompleted);
                    _drains.Add(_pool.DrainAsync(worker.Id, _drainTimeout, CancellationToken.None));
                }
            }

            return Known;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        Task[] drains;
        lock (_drains)
        {
            drains = [.. _drains];
        }

        await Task.WhenAll(drains).ConfigureAwait(false);
        _stop.Dispose();
        _refreshing.Dispose();
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_refresh, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static string Url(IPAddress address, int port) => new UriBuilder(Uri.UriSchemeHttp, address.ToString(), port).Uri.ToString();

    /// <summary>The id a worker created for <paramref name="url"/> has (GrpcWorker's: scheme and authority).</summary>
    private static string WorkerId(string url) => new Uri(url).GetLeftPart(UriPartial.Authority);
}

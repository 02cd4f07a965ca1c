using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Prometheus;

namespace Inference.Gateway.Metrics;

/// <summary>
/// Process and .NET runtime series in a gateway's registry, from prometheus-net's own collectors:
/// <list type="bullet">
/// <item><c>DotNetStats</c>: process_cpu_seconds_total, process_working_set_bytes (the resident set on Linux),
/// process_private_memory_bytes, process_virtual_memory_bytes, process_open_handles (open file descriptors,
/// sockets included), process_num_threads, process_start_time_seconds, dotnet_collection_count_total,
/// dotnet_total_memory_bytes.</item>
/// <item>a <c>MeterAdapter</c> over the runtime's <c>System.Runtime</c> meter (system_runtime_dotnet_gc_*,
/// system_runtime_dotnet_thread_pool_*, system_runtime_dotnet_exceptions, ...; observable, read at scrape time)
/// and this host's Kestrel meter (microsoft_aspnetcore_server_kestrel_kestrel_connection_duration,
/// _rejected_connections, ...).</item>
/// </list>
/// The runtime's EventCounters are not adapted: on .NET 9+ the System.Runtime meter carries the same values,
/// read at scrape time instead of on an EventListener interval.
/// </summary>
/// <remarks>
/// A hosted lifecycle service so the listener starts before Kestrel accepts its first connection and stops
/// with the host. The listener sees every meter in the process; the filter keeps System.Runtime (one per
/// process) and only the Kestrel meter of this host's <see cref="IMeterFactory"/>, so several gateways in one
/// process (tests) never count each other's connections.
/// Up/down counters (Kestrel's active and queued connections) are left out: the adapter forgets a series that has
/// not changed for <see cref="SeriesLifetime"/> (at most a day), and an up/down series forgotten while, say, one
/// long-lived gRPC connection stays open would restart from 0 and go negative when it closes. Open sockets are in
/// process_open_handles.
/// </remarks>
internal sealed class ProcessMetrics : IHostedLifecycleService, IDisposable
{
    private const string RuntimeMeter = "System.Runtime";
    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";

    // The adapter drops a series not updated for this long (its maximum). Observable instruments are updated at
    // every scrape; this keeps event-driven counters (exceptions, rejected connections) from resetting after a
    // quiet spell.
    private static readonly TimeSpan SeriesLifetime = TimeSpan.FromDays(1);

    private readonly CollectorRegistry _registry;
    private readonly IMeterFactory _meters;
    private readonly Lock _gate = new();
    private IDisposable? _adapter;
    private bool _disposed;

    public ProcessMetrics(CollectorRegistry registry, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(meters);
        _registry = registry;
        _meters = meters;
        DotNetStats.Register(registry);
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _adapter ??= MeterAdapter.StartListening(new MeterAdapterOptions
            {
                Registry = _registry,
                MetricFactory = null, // the default is the static default registry's factory, which would win over Registry
                InstrumentFilterPredicate = IsOurs,
                MetricsExpireAfter = SeriesLifetime,
            });
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Stops listening; idempotent (the host stops it, then the container disposes it).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _adapter?.Dispose();
            _adapter = null;
        }
    }

    private bool IsOurs(Instrument instrument) =>
        !IsUpDownCounter(instrument) && instrument.Meter.Name switch
        {
            RuntimeMeter => instrument.Meter.Scope is null,
            KestrelMeter => ReferenceEquals(instrument.Meter.Scope, _meters),
            _ => false,
        };

    private static bool IsUpDownCounter(Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(UpDownCounter<>);
}

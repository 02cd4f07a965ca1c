using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inference.Worker.Serving;

/// <summary>
/// The worker daemon's server: Kestrel on HTTP/2 cleartext hosting worker.proto's Worker service and
/// grpc.health.v1. It listens before the model is loaded (health NOT_SERVING, calls UNAVAILABLE), serves
/// once <see cref="Attach"/> hands it a <see cref="WorkerHost"/>, and drains before it stops.
/// </summary>
public sealed class WorkerServer : IAsyncDisposable
{
    private static readonly TimeSpan DrainPollInterval = TimeSpan.FromMilliseconds(20);

    private readonly WebApplication _app;
    private readonly WorkerServingState _state;
    private readonly WorkerServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private bool _ownsHost;
    private bool _disposed;

    private WorkerServer(WebApplication app, WorkerServingState state, WorkerServerOptions options, TimeProvider time, Uri address)
    {
        _app = app;
        _state = state;
        _options = options;
        _time = time;
        Address = address;
        _logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<WorkerServer>();
    }

    /// <summary>The address clients dial (with the real port when <see cref="WorkerServerOptions.Port"/> was 0).</summary>
    public Uri Address { get; }

    /// <summary>The served model, or null while loading.</summary>
    public WorkerHost? Host => _state.Host;

    public bool Draining => _state.Draining;

    /// <summary>The server's logger factory (for whatever the caller logs alongside it).</summary>
    public ILoggerFactory LoggerFactory => _app.Services.GetRequiredService<ILoggerFactory>();

    /// <summary>Validates the options, binds the port and starts serving (NOT_SERVING until <see cref="Attach"/>).</summary>
    public static async Task<WorkerServer> StartAsync(
        WorkerServerOptions options,
        Action<ILoggingBuilder>? configureLogging = null,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        time ??= TimeProvider.System;

        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Inference.Worker" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Action<ListenOptions> h2c = listen => listen.Protocols = HttpProtocols.Http2;
            if (options.Host == "localhost")
            {
                kestrel.ListenLocalhost(options.Port, h2c);
            }
            else
            {
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port, h2c);
            }
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);

        // Kestrel stops waiting for requests after this; a drain has already waited for Generate calls.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<IHostLifetime, ExternalHostLifetime>();
        var state = new WorkerServingState();
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton(state.Health);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(time);
        builder.Services.AddGrpc(grpc => grpc.EnableDetailedErrors = false);

        WebApplication app = builder.Build();
        app.MapGrpcService<WorkerGrpcService>();
        app.MapGrpcService<global::Grpc.HealthCheck.HealthServiceImpl>();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        var server = new WorkerServer(app, state, options, time, address);
        WorkerServerLog.Listening(server._logger, address);
        return server;
    }

    /// <summary>Starts serving <paramref name="host"/>: health turns SERVING. With <paramref name="ownsHost"/> the server disposes it.</summary>
    public void Attach(WorkerHost host, bool ownsHost = true)
    {
        ArgumentNullException.ThrowIfNull(host);
        _state.Attach(host);
        _ownsHost = ownsHost;
        WorkerInfo info = host.Info;
        WorkerServerLog.Serving(_logger, info.Model, info.Device, info.MaxModelLength, info.KvBlocksTotal, info.BlockSize);
    }

    /// <summary>
    /// Health NOT_SERVING and new Generate calls UNAVAILABLE at once, then waits for in-flight Generate calls to
    /// finish, at most <see cref="WorkerServerOptions.DrainTimeout"/>. True when all finished in time.
    /// </summary>
    public async Task<bool> DrainAsync(CancellationToken cancellationToken = default)
    {
        _state.Drain();
        WorkerServerLog.Draining(_logger, _options.DrainTimeout, _state.ActiveGenerates);
        long start = _time.GetTimestamp();
        while (_state.ActiveGenerates > 0)
        {
            if (_time.GetElapsedTime(start) >= _options.DrainTimeout)
            {
                WorkerServerLog.DrainTimedOut(_logger, _options.DrainTimeout, _state.ActiveGenerates);
                return false;
            }

            await Task.Delay(DrainPollInterval, _time, cancellationToken).ConfigureAwait(false);
        }

        WorkerServerLog.Drained(_logger, _time.GetElapsedTime(start));
        return true;
    }

    /// <summary>Stops listening (open streams end), without draining first.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _state.Drain();
        using (var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await _app.StopAsync(stopTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Debug.WriteLine("worker server stop timed out");
            }
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        if (_ownsHost)
        {
            _state.Host?.Dispose();
        }
    }
}

using System.Net;
using Inference.Gateway.Keys;
using Inference.Gateway.Serving;
using Inference.Worker.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Hosting;

/// <summary>
/// A running gateway: Kestrel with the OpenAI HTTP API on one port and the public gRPC API (h2c) on
/// another, over a worker pool (in-process worker or worker daemons). Stopping it drains: readiness goes
/// false at once, new requests get 503, in-flight requests get up to DrainTimeout to finish.
/// </summary>
public sealed partial class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenOptions _http;
    private readonly ListenOptions? _grpc;
    private readonly TimeProvider _time;

    private GatewayHost(WebApplication app, GatewayService service, ListenOptions http, ListenOptions? grpc, TimeProvider time)
    {
        _time = time;
        _app = app;
        Service = service;
        _http = http;
        _grpc = grpc;
    }

    public GatewayService Service { get; }

    /// <summary>The host's services (the platform and tests read its endpoints and singletons).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The HTTP base address (actual port when 0 was asked for).</summary>
    public Uri HttpAddress => new($"http://{Format(_http.IPEndPoint!)}");

    /// <summary>The public gRPC address, or null when disabled.</summary>
    public Uri? GrpcAddress => _grpc is null ? null : new($"http://{Format(_grpc.IPEndPoint!)}");

    public static async Task<GatewayHost> StartAsync(
        GatewayOptions options, GatewayDependencies? dependencies = null, Action<ILoggingBuilder>? logging = null,
        IProgress<Worker.Loading.LoadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        dependencies ??= new GatewayDependencies();
        options.Validate(dependencies.Workers is not null);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }
        else
        {
            logging(builder.Logging);
        }

        // A not-ready answer (starting, draining, no worker up) is a state, not an error: the health-checks service
        // would log every such probe at Error. The gateway logs the transitions itself (draining, worker down).
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.DrainTimeout);
        builder.Services.AddSingleton<IHostLifetime, ExternalHostLifetime>(); // signals are handled by the caller (drain first)
        ListenOptions? http = null;
        ListenOptions? grpc = null;
        IPAddress address = options.Host switch
        {
            "localhost" => IPAddress.Loopback,
            _ => IPAddress.Parse(options.Host.Trim('[', ']')),
        };
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null; // RequestBody enforces the limit with an OpenAI error
            // A body that stalls or trickles is refused with 408 (BadHttpRequestException, answered below) instead
            // of holding a connection and a request slot.
            k.Limits.MinRequestBodyDataRate = options.Limits.MinBodyBytesPerSecond > 0
                ? new MinDataRate(options.Limits.MinBodyBytesPerSecond, options.Limits.BodyGracePeriod)
                : null;
            k.AddServerHeader = false;
            k.Listen(address, options.HttpPort, l =>
            {
                l.Protocols = HttpProtocols.Http1; // cleartext HTTP/2 needs prior knowledge; the gRPC port serves that
                http = l;
            });
            if (options.GrpcPort >= 0)
            {
                k.Listen(address, options.GrpcPort, l =>
                {
                    l.Protocols = HttpProtocols.Http2;
                    grpc = l;
                });
            }
        });

        builder.Services.AddInferenceGateway(options, dependencies, progress);
        dependencies.ConfigureServices?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        GatewayService service;
        try
        {
            service = app.Services.GetRequiredService<GatewayService>(); // builds the parts: store, keys, workers
            app.UseInferenceGatewayErrors();
            dependencies.ConfigureApp?.Invoke(app);
            app.MapInferenceGateway();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Stopped, then disposed: background services that started see a stop, not a cancelled token's exception
            // (which the host logs as a critical failure beside the real one, e.g. a port in use).
            try
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception stop) when (stop is not OutOfMemoryException)
            {
                // The start's own exception is the one to report.
            }

            await app.DisposeAsync().ConfigureAwait(false); // what was built so far (a loaded model, a connection)
            throw;
        }

        var host = new GatewayHost(app, service, http!, grpc, app.Services.GetRequiredService<TimeProvider>());
        ILogger log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inference.Gateway");
        if (log.IsEnabled(LogLevel.Information))
        {
            IKeyStore keys = app.Services.GetRequiredService<IKeyStore>();
            bool cacheOn = dependencies.ResponseCache is not null || options.ResponseCache;
            string grpcText = host.GrpcAddress?.ToString() ?? "off";
            string workerIds = string.Join(", ", service.Pool.Workers.Select(w => w.Id));
            string auth = service.IsOpen ? "open (no keys; loopback only)"
                : options.RequireKeys && options.KeysFile is null && dependencies.Keys is not null ? $"keys required ({keys.Count} in the key store)"
                : $"{keys.Count} keys";
            string limitStore = options.Redis is null ? "memory" : $"redis (local share 1/{options.Replicas} while unreachable)";
            string cacheText = !cacheOn ? "off" : $"on, ttl {options.ResponseCacheTtl}";
            LogStarted(log, host.HttpAddress, grpcText, workerIds, auth, limitStore, cacheText);
        }
        if (service.IsOpen)
        {
            LogOpen(log);
        }

        return host;
    }

    /// <summary>
    /// Graceful drain (SIGTERM): readiness false and new requests 503 at once while the ports stay open,
    /// in-flight requests get up to <see cref="GatewayOptions.DrainTimeout"/> to finish, then the host stops.
    /// Returns true when everything in flight finished in time.
    /// </summary>
    public async Task<bool> DrainAsync(CancellationToken cancellationToken = default)
    {
        Service.StartDraining();
        TimeProvider time = _time;
        long started = time.GetTimestamp();
        bool finished;
        while (!(finished = Service.InFlight == 0) && time.GetElapsedTime(started) < Service.Options.DrainTimeout)
        {
            // Polling a counter every 20 ms: a drain is rare and a wake-up per request end would cost the hot path.
            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
        }

        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        return finished;
    }

    /// <summary>Stops at once (in-flight requests get the host's shutdown timeout).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        Service.StartDraining();
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Service.StartDraining();
        try
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false); // the container disposes the parts it built: discovery, workers, sink, store
        }
    }

    private static string Format(IPEndPoint endpoint) =>
        endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : $"{endpoint.Address}:{endpoint.Port}";

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Gateway listening: HTTP {Http}, gRPC {Grpc}; workers: {Workers}; auth: {Auth}; limits: {Limits}; response cache: {Cache}")]
    private static partial void LogStarted(ILogger logger, Uri http, string grpc, string workers, string auth, string limits, string cache);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "No API keys configured: the gateway is open to any local caller (loopback only). Give --keys FILE to require keys.")]
    private static partial void LogOpen(ILogger logger);
}

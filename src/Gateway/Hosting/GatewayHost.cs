using System.Diagnostics.Metrics;
using System.Net;
using Inference.Gateway.Caching;
using Inference.Gateway.Discovery;
using Inference.Gateway.Grpc;
using Inference.Gateway.HealthChecks;
using Inference.Gateway.Http;
using Inference.Gateway.Keys;
using Inference.Gateway.Metering;
using Inference.Gateway.Metrics;
using Inference.Gateway.Quotas;
using Inference.Gateway.Redis;
using Inference.Gateway.Routing;
using Inference.Gateway.Serving;
using Inference.Gateway.Workers;
using Inference.Worker.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

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
    private readonly ConnectionMultiplexer? _redis;
    private readonly IAsyncDisposable? _ownedSink;
    private readonly TimeProvider _time;
    private DnsWorkerDiscovery? _discovery;

    private GatewayHost(WebApplication app, GatewayService service, ListenOptions http, ListenOptions? grpc, ConnectionMultiplexer? redis, IAsyncDisposable? ownedSink, TimeProvider time)
    {
        _time = time;
        _app = app;
        Service = service;
        _http = http;
        _grpc = grpc;
        _redis = redis;
        _ownedSink = ownedSink;
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
        TimeProvider time = dependencies.Time ?? TimeProvider.System;

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
        builder.Services.AddGrpc(o => o.EnableDetailedErrors = false);
        InferenceGrpcService.AddServices(builder.Services);
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

        // Parts: workers, keys, limits, quotas, cache, usage.
        ConnectionMultiplexer? redis = null;
        if (options.Redis is not null && (dependencies.QuotaStore is null || dependencies.ResponseCache is null))
        {
            // Unreachable at start: the gateway does not start (a wrong address must not pass for an outage).
            // Later, commands fail at once while disconnected instead of queueing: the monitor switches to local limits.
            ConfigurationOptions redisOptions = ConfigurationOptions.Parse(options.Redis);
            redisOptions.BacklogPolicy = BacklogPolicy.FailFast;
            redis = await ConnectionMultiplexer.ConnectAsync(redisOptions).ConfigureAwait(false);
            ConnectionMultiplexer connected = redis;
            builder.Services.AddSingleton(sp => new RedisStoreMonitor(connected, time, sp.GetRequiredService<ILogger<RedisStoreMonitor>>()));
        }

        IReadOnlyList<IWorker> workers = dependencies.Workers ?? CreateWorkers(options, progress, time);
        byte[]? prefixSecret = options.PrefixCacheSecretFile is { } secretFile ? Worker.Engine.PrefixCacheSecret.Read(secretFile) : null;
        var pool = new WorkerPool(workers, new WorkerPoolOptions(), time, policy: RoutingPolicies.Create(options.RoutingPolicy, prefixSecret, time));
        DnsWorkerDiscovery? discovery = null;
        if (options.WorkerDns.Count > 0)
        {
            Func<Uri, IWorker> create = dependencies.WorkerFactory ?? (uri => new GrpcWorker(uri, time: time));
            discovery = new DnsWorkerDiscovery(pool, options.WorkerDns, options.WorkerDnsRefresh, options.DrainTimeout, create, dependencies.WorkerResolver, time);
            await discovery.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        // The key file is re-read when it changes (KeyFileWatcher). No cache in front: its lookups are in memory, and a
        // cache would keep a revoked key alive for its TTL.
        ReloadingKeyStore? keyFile = options.KeysFile is null ? null : ReloadingKeyStore.Load(options.KeysFile, time);
        FileKeyStore noKeys = FileKeyStore.Parse("""{"keys":[]}""", "(no key file)", time);
        IKeyStore keys = dependencies.Keys ?? (IKeyStore?)keyFile ?? noKeys;
        ILimitsSource limits = dependencies.Limits ?? (ILimitsSource?)keyFile ?? noKeys;
        bool cacheOn = dependencies.ResponseCache is not null || options.ResponseCache;
        IAsyncDisposable? ownedSink = null;
        IUsageSink usage = dependencies.UsageSink ?? CreateSink(options, out ownedSink);
        var metrics = new GatewayMetrics(() => pool.Workers);

        builder.Services.AddInferenceGateway(options);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(pool);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddHostedService(sp => new ProcessMetrics(metrics.Registry, sp.GetRequiredService<IMeterFactory>()));
        if (keyFile is not null)
        {
            builder.Services.AddHostedService(sp => new KeyFileWatcher(keyFile, time, sp.GetRequiredService<ILogger<KeyFileWatcher>>()));
        }

        builder.Services.AddSingleton(sp =>
        {
            // With --redis: limits and cache shared through Redis, falling back to this replica while it is unreachable.
            RedisStoreMonitor? monitor = sp.GetService<RedisStoreMonitor>();
            IQuotaStore quotaStore = dependencies.QuotaStore
                ?? (monitor is not null
                    ? new FailoverQuotaStore(new RedisQuotaStore(redis!, "inference:quota"), monitor, options.Replicas, time, sp.GetRequiredService<ILogger<FailoverQuotaStore>>())
                    : new MemoryQuotaStore());
            IResponseCache? cache = dependencies.ResponseCache
                ?? (!options.ResponseCache ? null
                    : monitor is not null ? new RedisResponseCache(redis!, "inference:cache:", monitor) : new MemoryResponseCache(options.ResponseCacheBytes, time));
            if (monitor is not null)
            {
                metrics.TrackLimitsStore(() => monitor.IsUp);
            }

            return new GatewayService(
                options, pool, keys, limits, new QuotaManager(quotaStore, time), cache, usage, metrics, time,
                sp.GetRequiredService<ILogger<GatewayService>>());
        });

        dependencies.ConfigureServices?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        GatewayService service = app.Services.GetRequiredService<GatewayService>();
        ILogger log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inference.Gateway");
        app.Use(async (ctx, next) =>
        {
            try
            {
                await next(ctx).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsClientGone(ctx, ex))
            {
                // The client reset the connection or left (mid-body, mid-stream): nobody to answer, not our failure.
                // Aborting tells Kestrel not to drain a body it can no longer read.
                LogClientGone(log, ctx.Request.Path, ex);
                ctx.Abort();
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex)
            {
                // Bad framing (400), a body too slow (408) or too large (413): the client's fault, answered with the
                // status Kestrel chose. The connection cannot be reused (its framing is lost or the body unread).
                LogBadRequest(log, ctx.Request.Path, ex.StatusCode, ex.Message);
                service.Metrics.Rejected(ex.StatusCode);
                ctx.Response.Headers.Connection = "close";
                await HttpErrors.WriteAsync(ctx, HttpErrors.ClientFault(ex)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A failure of our own (a limits store down, a bug) still gets an OpenAI error object, never an
                // empty 500; the server keeps serving.
                LogUnhandled(log, ex, ctx.Request.Path);
                bool store = ex is RedisException or RedisTimeoutException;
                await HttpErrors.WriteAsync(ctx, store
                    ? Api.ApiException.Unavailable("A shared store (limits or cache) is unavailable; retry shortly.", TimeSpan.FromSeconds(2))
                    : new Api.ApiException(HttpStatusCode.InternalServerError, "server_error", "internal_error", null, "The server had an error while processing your request.")).ConfigureAwait(false);
            }
        });
        dependencies.ConfigureApp?.Invoke(app);
        OpenAIEndpoints.Map(app, service);
        InferenceGrpcService.Map(app, service, options.GrpcPort >= 0);
        IHostApplicationLifetime lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() =>
        {
            service.StartDraining();
            LogDraining(log, options.DrainTimeout.TotalSeconds);
        });

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var host = new GatewayHost(app, service, http!, grpc, redis, ownedSink, time) { _discovery = discovery };
        if (log.IsEnabled(LogLevel.Information))
        {
            string grpcText = host.GrpcAddress?.ToString() ?? "off";
            string workerIds = string.Join(", ", workers.Select(w => w.Id));
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

    private static List<IWorker> CreateWorkers(GatewayOptions options, IProgress<Worker.Loading.LoadProgress>? progress, TimeProvider time)
    {
        if (options.LocalWorker is { } local)
        {
            return [InProcessWorkers.Start(local, options.LocalEngine, options.ServedModelName, progress, time)];
        }

        return options.Workers.Select(url => (IWorker)new GrpcWorker(new Uri(url), time: time)).ToList();
    }

    private static IUsageSink CreateSink(GatewayOptions options, out IAsyncDisposable? owned)
    {
        owned = null;
        if (options.UsageLogPath() is not { } path)
        {
            return NullUsageSink.Instance;
        }

        var sink = new JsonLinesUsageSink(path); // creates the data folder
        owned = sink;
        return sink;
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
            await _app.DisposeAsync().ConfigureAwait(false);
            if (_discovery is not null)
            {
                await _discovery.DisposeAsync().ConfigureAwait(false);
            }

            await Service.Pool.DisposeAsync().ConfigureAwait(false);
            if (_ownedSink is not null)
            {
                await _ownedSink.DisposeAsync().ConfigureAwait(false);
            }

            if (_redis is not null)
            {
                await _redis.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    // A reset shows as ConnectionResetException before Kestrel has marked the request aborted; a cancelled read or
    // write, or a failed one, counts only once it has.
    private static bool IsClientGone(Microsoft.AspNetCore.Http.HttpContext ctx, Exception ex) =>
        ex is Microsoft.AspNetCore.Connections.ConnectionResetException
        || (ex is OperationCanceledException or IOException && ex is not Microsoft.AspNetCore.Http.BadHttpRequestException && ctx.RequestAborted.IsCancellationRequested);

    private static string Format(IPEndPoint endpoint) =>
        endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : $"{endpoint.Address}:{endpoint.Port}";

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Gateway listening: HTTP {Http}, gRPC {Grpc}; workers: {Workers}; auth: {Auth}; limits: {Limits}; response cache: {Cache}")]
    private static partial void LogStarted(ILogger logger, Uri http, string grpc, string workers, string auth, string limits, string cache);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "No API keys configured: the gateway is open to any local caller (loopback only). Give --keys FILE to require keys.")]
    private static partial void LogOpen(ILogger logger);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "Unhandled error serving {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception ex, string path);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Information, Message = "Bad request to {Path}: {Status} ({Reason})")]
    private static partial void LogBadRequest(ILogger logger, Microsoft.AspNetCore.Http.PathString path, int status, string reason);

    [LoggerMessage(EventId = 3122, Level = LogLevel.Debug, Message = "Client gone while serving {Path}")]
    private static partial void LogClientGone(ILogger logger, Microsoft.AspNetCore.Http.PathString path, Exception ex);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Draining: not ready, refusing new requests; in-flight requests have {Seconds} s")]
    private static partial void LogDraining(ILogger logger, double seconds);
}

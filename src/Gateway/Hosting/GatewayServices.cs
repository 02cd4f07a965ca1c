using Inference.Gateway.Caching;
using Inference.Gateway.Discovery;
using Inference.Gateway.Grpc;
using Inference.Gateway.HealthChecks;
using Inference.Gateway.Keys;
using Inference.Gateway.Metering;
using Inference.Gateway.Metrics;
using Inference.Gateway.Quotas;
using Inference.Gateway.Redis;
using Inference.Gateway.Routing;
using Inference.Gateway.Serving;
using Inference.Gateway.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Inference.Gateway.Hosting;

/// <summary>
/// The gateway's parts as services of a host: options and their validator, the worker pool (in-process worker,
/// fixed worker URLs or DNS discovery), keys and limits, the shared-store connection, quotas, the response cache,
/// the usage sink, metrics, health checks, the gRPC services and <see cref="GatewayService"/> over them. A part given
/// in <see cref="GatewayDependencies"/> replaces the one built from the options and stays its owner's to dispose;
/// every part built here is disposed with the host's container. Map the endpoints with
/// <see cref="GatewayApplication.MapInferenceGateway"/>.
/// </summary>
public static class GatewayServices
{
    /// <summary>
    /// Registers the gateway built from <paramref name="options"/>. Nothing is built until the host resolves
    /// <see cref="GatewayService"/> (the shared store is connected first, then the workers started, so a wrong Redis
    /// address fails before a model is loaded); DNS discovery and the key-file watcher run as hosted services.
    /// </summary>
    public static IServiceCollection AddInferenceGateway(
        this IServiceCollection services, GatewayOptions options, GatewayDependencies? dependencies = null,
        IProgress<Worker.Loading.LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        GatewayDependencies parts = dependencies ?? new GatewayDependencies();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(options);
        services.AddSingleton(parts.Time ?? TimeProvider.System);
        services.AddGatewayHealthChecks();
        services.AddGrpc(o => o.EnableDetailedErrors = false);
        InferenceGrpcService.AddServices(services);

        AddSharedStore(services, options, parts);
        AddWorkers(services, options, parts, progress);
        AddKeys(services, options, parts);
        AddUsageSink(services, options, parts);
        services.AddSingleton(sp =>
        {
            WorkerPool pool = sp.GetRequiredService<WorkerPool>();
            return new GatewayMetrics(() => pool.Workers);
        });
        services.AddHostedService(sp => new ProcessMetrics(sp.GetRequiredService<GatewayMetrics>().Registry, sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton(sp => CreateService(sp, options, parts));
        return services;
    }

    private static void AddSharedStore(IServiceCollection services, GatewayOptions options, GatewayDependencies parts)
    {
        if (options.Redis is null || (parts.QuotaStore is not null && parts.ResponseCache is not null))
        {
            return;
        }

        // Unreachable at start: the gateway does not start (a wrong address must not pass for an outage). Later,
        // commands fail at once while disconnected instead of queueing: the monitor switches to local limits.
        string configuration = options.Redis;
        services.AddSingleton<IConnectionMultiplexer>(_ =>
        {
            ConfigurationOptions redisOptions = ConfigurationOptions.Parse(configuration);
            redisOptions.BacklogPolicy = BacklogPolicy.FailFast;
            return ConnectionMultiplexer.Connect(redisOptions);
        });
        services.AddSingleton(sp => new RedisStoreMonitor(
            sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisStoreMonitor>>()));
    }

    private static void AddWorkers(IServiceCollection services, GatewayOptions options, GatewayDependencies parts, IProgress<Worker.Loading.LoadProgress>? progress)
    {
        services.AddSingleton(sp =>
        {
            TimeProvider time = sp.GetRequiredService<TimeProvider>();
            IReadOnlyList<IWorker> workers = parts.Workers ?? CreateWorkers(options, progress, time);
            byte[]? prefixSecret = options.PrefixCacheSecretFile is { } secretFile ? Worker.Engine.PrefixCacheSecret.Read(secretFile) : null;
            return new WorkerPool(workers, new WorkerPoolOptions(), time, policy: RoutingPolicies.Create(options.RoutingPolicy, prefixSecret, time));
        });
        if (options.WorkerDns.Count == 0)
        {
            return;
        }

        services.AddSingleton(sp =>
        {
            TimeProvider time = sp.GetRequiredService<TimeProvider>();
            Func<Uri, IWorker> create = parts.WorkerFactory ?? (uri => new GrpcWorker(uri, time: time));
            return new DnsWorkerDiscovery(
                sp.GetRequiredService<WorkerPool>(), options.WorkerDns, options.WorkerDnsRefresh, options.DrainTimeout, create,
                parts.WorkerResolver, time, sp.GetRequiredService<ILogger<DnsWorkerDiscovery>>());
        });
        services.AddHostedService(sp => new DiscoveryService(sp.GetRequiredService<DnsWorkerDiscovery>()));
    }

    private static void AddKeys(IServiceCollection services, GatewayOptions options, GatewayDependencies parts)
    {
        // The key file is re-read when it changes (KeyFileWatcher). No cache in front: its lookups are in memory, and a
        // cache would keep a revoked key alive for its TTL.
        if (options.KeysFile is { } keysFile)
        {
            services.AddSingleton(sp => ReloadingKeyStore.Load(keysFile, sp.GetRequiredService<TimeProvider>()));
            services.AddHostedService(sp => new KeyFileWatcher(
                sp.GetRequiredService<ReloadingKeyStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<KeyFileWatcher>>()));
        }

        services.AddSingleton(sp => parts.Keys ?? (IKeyStore?)sp.GetService<ReloadingKeyStore>() ?? NoKeys(sp));
        services.AddSingleton(sp => parts.Limits ?? (ILimitsSource?)sp.GetService<ReloadingKeyStore>() ?? NoKeys(sp));
    }

    private static FileKeyStore NoKeys(IServiceProvider sp) => FileKeyStore.Parse("""{"keys":[]}""", "(no key file)", sp.GetRequiredService<TimeProvider>());

    private static void AddUsageSink(IServiceCollection services, GatewayOptions options, GatewayDependencies parts)
    {
        if (parts.UsageSink is not null)
        {
            services.AddSingleton(parts.UsageSink); // its owner's: the container does not dispose an instance it was given
        }
        else if (options.UsageLogPath() is { } path)
        {
            services.AddSingleton<IUsageSink>(_ => new JsonLinesUsageSink(path)); // creates the data folder
        }
        else
        {
            services.AddSingleton<IUsageSink>(NullUsageSink.Instance);
        }
    }

    private static GatewayService CreateService(IServiceProvider sp, GatewayOptions options, GatewayDependencies parts)
    {
        // The shared store, keys and usage sink before the workers: a wrong address or key file fails before a model
        // load, and the container, disposing in reverse order, stops the workers before it closes the sink and store.
        RedisStoreMonitor? monitor = sp.GetService<RedisStoreMonitor>();
        IConnectionMultiplexer? redis = monitor is null ? null : sp.GetRequiredService<IConnectionMultiplexer>();
        TimeProvider time = sp.GetRequiredService<TimeProvider>();
        IKeyStore keys = sp.GetRequiredService<IKeyStore>();
        ILimitsSource limits = sp.GetRequiredService<ILimitsSource>();
        IUsageSink usage = sp.GetRequiredService<IUsageSink>();
        WorkerPool pool = sp.GetRequiredService<WorkerPool>();
        GatewayMetrics metrics = sp.GetRequiredService<GatewayMetrics>();

        // With --redis: limits and cache shared through Redis, falling back to this replica while it is unreachable.
        IQuotaStore quotaStore = parts.QuotaStore
            ?? (monitor is not null
                ? new FailoverQuotaStore(new RedisQuotaStore(redis!, "inference:quota"), monitor, options.Replicas, time, sp.GetRequiredService<ILogger<FailoverQuotaStore>>())
                : new MemoryQuotaStore());
        IResponseCache? cache = parts.ResponseCache
            ?? (!options.ResponseCache ? null
                : monitor is not null ? new RedisResponseCache(redis!, "inference:cache:", monitor) : new MemoryResponseCache(options.ResponseCacheBytes, time));
        if (monitor is not null)
        {
            metrics.TrackLimitsStore(() => monitor.IsUp);
        }

        return new GatewayService(
            options, pool, keys, limits, new QuotaManager(quotaStore, time), cache, usage, metrics, time,
            sp.GetRequiredService<ILogger<GatewayService>>());
    }

    private static List<IWorker> CreateWorkers(GatewayOptions options, IProgress<Worker.Loading.LoadProgress>? progress, TimeProvider time)
    {
        if (options.LocalWorker is { } local)
        {
            return [InProcessWorkers.Start(local, options.LocalEngine, options.ServedModelName, progress, time)];
        }

        return options.Workers.Select(url => (IWorker)new GrpcWorker(new Uri(url), time: time)).ToList();
    }

    /// <summary>Runs DNS discovery with the host: the first lookup before the host has started, then one per refresh.</summary>
    private sealed class DiscoveryService(DnsWorkerDiscovery discovery) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => discovery.StartAsync(cancellationToken);

        // The loop stops when the container disposes the discovery (after the server has stopped and requests drained).
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

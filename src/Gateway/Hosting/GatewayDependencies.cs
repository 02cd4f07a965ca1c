using Inference.Gateway.Caching;
using Inference.Gateway.Keys;
using Inference.Gateway.Metering;
using Inference.Gateway.Quotas;
using Inference.Gateway.Workers;

namespace Inference.Gateway.Hosting;

/// <summary>
/// Replaceable parts of a gateway: the platform supplies its key store, limits source and usage sink;
/// tests supply workers or a shared quota store. Anything left null is built from <see cref="GatewayOptions"/>.
/// </summary>
public sealed record GatewayDependencies
{
    public IReadOnlyList<IWorker>? Workers { get; init; }

    /// <summary>Creates the worker for an address found by worker discovery (default: a GrpcWorker).</summary>
    public Func<Uri, IWorker>? WorkerFactory { get; init; }

    /// <summary>Resolves worker discovery's DNS names (default: the system resolver).</summary>
    public Discovery.WorkerAddressResolver? WorkerResolver { get; init; }

    public IKeyStore? Keys { get; init; }

    public ILimitsSource? Limits { get; init; }

    public IQuotaStore? QuotaStore { get; init; }

    public IResponseCache? ResponseCache { get; init; }

    public IUsageSink? UsageSink { get; init; }

    public TimeProvider? Time { get; init; }

    /// <summary>
    /// Adds services to the gateway's host (the platform registers its own beside the gateway's, in the same process
    /// and on the same port).
    /// </summary>
    public Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? ConfigureServices { get; init; }

    /// <summary>Maps more endpoints on the gateway's HTTP port, before the gateway's own (the platform's /api).</summary>
    public Action<Microsoft.AspNetCore.Builder.WebApplication>? ConfigureApp { get; init; }
}

using Grpc.Core;
using Grpc.Health.V1;
using Inference.Gateway.Serving;
using Microsoft.Extensions.Hosting;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Inference.Gateway.Grpc;

/// <summary>
/// grpc.health.v1 on the public gRPC port, for "" and "inference.v1.InferenceService": SERVING while the gateway
/// is ready (a worker ready and making progress, not draining), NOT_SERVING otherwise. As the health checking
/// protocol says: Check on another service is NOT_FOUND; Watch on another service sends SERVICE_UNKNOWN and stays
/// open (a watcher may start before the service exists), and every Watch sends each change of status. When the
/// host stops, a Watch sends the last status and ends, so open watches never hold up a shutdown.
/// </summary>
public sealed class GatewayHealthService : Health.HealthBase
{
    private static readonly string ServiceName = InferenceService.Descriptor.FullName;

    // Readiness is derived (worker reports, the drain flag), not an event: a watch looks this often.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private readonly GatewayService _service;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;

    public GatewayHealthService(GatewayService service, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        _service = service;
        _time = time;
        _lifetime = lifetime;
    }

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ServingStatus status = StatusOf(request.Service);
        return status == ServingStatus.ServiceUnknown
            ? throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{request.Service}'"))
            : Task.FromResult(new HealthCheckResponse { Status = status });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _lifetime.ApplicationStopping);
        ServingStatus? last = null;
        try
        {
            while (true)
            {
                last = await SendIfChangedAsync(request.Service, last, responseStream, context.CancellationToken).ConfigureAwait(false);
                await Task.Delay(PollInterval, _time, watch.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (watch.IsCancellationRequested)
        {
            if (!context.CancellationToken.IsCancellationRequested)
            {
                // The host is stopping (draining made the gateway NOT_SERVING): say so, then end the call.
                await SendIfChangedAsync(request.Service, last, responseStream, context.CancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<ServingStatus> SendIfChangedAsync(
        string service, ServingStatus? last, IServerStreamWriter<HealthCheckResponse> responseStream, CancellationToken cancellationToken)
    {
        ServingStatus status = StatusOf(service);
        if (status != last)
        {
            await responseStream.WriteAsync(new HealthCheckResponse { Status = status }, cancellationToken).ConfigureAwait(false);
        }

        return status;
    }

    private ServingStatus StatusOf(string service) =>
        service.Length == 0 || service == ServiceName
            ? (_service.IsReady ? ServingStatus.Serving : ServingStatus.NotServing)
            : ServingStatus.ServiceUnknown;
}

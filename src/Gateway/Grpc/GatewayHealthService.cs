using Grpc.Core;
using Grpc.Health.V1;
using Inference.Gateway.Serving;

namespace Inference.Gateway.Grpc;

/// <summary>
/// grpc.health.v1 on the public gRPC port: SERVING while the gateway is ready (a worker ready and making
/// progress, not draining), NOT_SERVING otherwise; for "" and "inference.v1.InferenceService".
/// </summary>
public sealed class GatewayHealthService : Health.HealthBase
{
    private const string ServiceName = "inference.v1.InferenceService";
    private readonly GatewayService _service;
    private readonly TimeProvider _time;

    public GatewayHealthService(GatewayService service, TimeProvider time)
    {
        _service = service;
        _time = time;
    }

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(new HealthCheckResponse { Status = StatusOf(request.Service) });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        HealthCheckResponse.Types.ServingStatus? last = null;
        try
        {
            while (!context.CancellationToken.IsCancellationRequested)
            {
                HealthCheckResponse.Types.ServingStatus status = StatusOf(request.Service);
                if (status != last)
                {
                    await responseStream.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken).ConfigureAwait(false);
                    last = status;
                }

                // Readiness is derived (worker reports, drain flag), not an event: look every 500 ms.
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, context.CancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The watcher left.
        }
    }

    private HealthCheckResponse.Types.ServingStatus StatusOf(string service) => service switch
    {
        "" or ServiceName => _service.IsReady ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing,
        _ => throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{service}'")),
    };
}

using Grpc.Health.V1;
using Grpc.HealthCheck;

namespace Inference.Worker.Serving;

/// <summary>
/// What the daemon's gRPC services share: the loaded <see cref="WorkerHost"/> (null while loading), the
/// health status, and the count of Generate calls in flight (what a drain waits for). Thread-safe.
/// </summary>
internal sealed class WorkerServingState
{
    private WorkerHost? _host;
    private int _activeGenerates;
    private volatile bool _draining;

    public WorkerServingState()
    {
        Health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        Health.SetStatus(ServiceName, HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    /// <summary>The worker service's full name, as health checks name it.</summary>
    public const string ServiceName = "inference.worker.v1.Worker";

    public HealthServiceImpl Health { get; } = new();

    /// <summary>The loaded model, or null while it loads.</summary>
    public WorkerHost? Host => Volatile.Read(ref _host);

    public bool Draining => _draining;

    public int ActiveGenerates => Volatile.Read(ref _activeGenerates);

    /// <summary>Makes the loaded model available and reports SERVING (unless already draining).</summary>
    public void Attach(WorkerHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (Interlocked.CompareExchange(ref _host, host, null) is not null)
        {
            throw new InvalidOperationException("a model is already attached");
        }

        if (!_draining)
        {
            SetHealth(HealthCheckResponse.Types.ServingStatus.Serving);
        }
    }

    /// <summary>Refuses new requests from now on and reports NOT_SERVING; running requests go on.</summary>
    public void Drain()
    {
        _draining = true;
        SetHealth(HealthCheckResponse.Types.ServingStatus.NotServing);
        Host?.Drain();
    }

    public void GenerateStarted() => Interlocked.Increment(ref _activeGenerates);

    public void GenerateEnded() => Interlocked.Decrement(ref _activeGenerates);

    private void SetHealth(HealthCheckResponse.Types.ServingStatus status)
    {
        Health.SetStatus(string.Empty, status);
        Health.SetStatus(ServiceName, status);
    }
}

using System.Net;

namespace Inference.Worker.Serving;

/// <summary>How the worker daemon listens and shuts down (the `serve` command's network settings).</summary>
public sealed record WorkerServerOptions
{
    /// <summary>IP address to bind (127.0.0.1, 0.0.0.0, ::) or "localhost".</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="WorkerServer.Address"/>).</summary>
    public int Port { get; init; } = 9000;

    /// <summary>How long a drain waits for in-flight requests before the server stops anyway.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Period of the Stats stream's load reports (worker.proto promises at most 200 ms).</summary>
    public TimeSpan StatsInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        if (Host != "localhost" && !IPAddress.TryParse(Host, out _))
        {
            throw new ArgumentException($"--host '{Host}' is not an IP address or localhost.");
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"--port {Port} is outside [0, 65535].");
        }

        if (DrainTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException($"--drain-timeout {DrainTimeout} must not be negative.");
        }

        if (StatsInterval <= TimeSpan.Zero || StatsInterval > TimeSpan.FromMilliseconds(200))
        {
            throw new ArgumentException($"StatsInterval {StatsInterval} must be in (0, 200 ms].");
        }
    }
}

using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// A RESP server that one test owns so it can kill it and start it again on the same port (an outage), with a
/// connection configured as the gateway configures its own (commands fail at once while disconnected).
/// </summary>
internal sealed class OwnedRespServer : IAsyncDisposable
{
    private RespServer? _server;

    private OwnedRespServer(RespServer server) => _server = server;

    public RespServerKind Kind { get; private set; }

    public int Port { get; private set; }

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The test's log entries (for the monitor and the store).</summary>
    public ErrorLogCollector Logs { get; } = new();

    public static async Task<OwnedRespServer> StartAsync()
    {
        RespServer server = await RespServer.StartAsync(RespServer.DefaultKind);
        return new OwnedRespServer(server) { Kind = server.Kind, Port = server.Port };
    }

    /// <summary>A connection like the gateway's: BacklogPolicy.FailFast.</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse($"{Endpoint},connectTimeout=5000");
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>Kills the server (SIGKILL for redis-server; Garnet closes every connection).</summary>
    public async Task KillAsync()
    {
        RespServer server = _server ?? throw new InvalidOperationException("already stopped");
        _server = null;
        await server.DisposeAsync();
    }

    /// <summary>Starts a new, empty server (no persistence) on the same port.</summary>
    public async Task RestartAsync()
    {
        if (_server is not null)
        {
            throw new InvalidOperationException("still running");
        }

        _server = await RespServer.StartAsync(Kind, Port);
    }

    public ILogger<T> Logger<T>() => new LoggerFactory([Logs]).CreateLogger<T>();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

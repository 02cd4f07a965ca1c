using System.Globalization;
using Garnet;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// Microsoft Garnet hosted in the test process on 127.0.0.1, in memory only. Lua is on, and scripts run as
/// transactions (keys locked for the whole script): without that Garnet does not make a script atomic, and the
/// quota store's admission script must be. Disposing closes the listener and every connection (a crash, to clients).
/// </summary>
internal sealed class HostedGarnetServer : RespServer
{
    private readonly GarnetServer _server;

    private HostedGarnetServer(GarnetServer server, int port)
        : base(port) => _server = server;

    public override RespServerKind Kind => RespServerKind.Garnet;

    public static RespServer Start(int port)
    {
        string[] args =
        [
            "--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
            "--lua", "--lua-transaction-mode",
            "--memory", "256m", "--index", "1m", // far below the 16 GiB default; tests keep a few MB
            "-q",
        ];
        var server = new GarnetServer(args, NullLoggerFactory.Instance);
        try
        {
            server.Start();
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return new HostedGarnetServer(server, port);
    }

    public override ValueTask DisposeAsync()
    {
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}

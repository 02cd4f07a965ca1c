using System.Net;
using System.Net.Sockets;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

public sealed class PlatformStartTests
{
    [Fact]
    public async Task PortInUse_FailsWithTheBindErrorOnly_NoBackgroundServiceReportedFaulted()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var logs = new LogCapture();

        Exception failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, httpPort: port, logs: logs);
        });

        Assert.Contains("address already in use", failure.Message, StringComparison.OrdinalIgnoreCase);
        // The platform's background services (budget monitor, ledger delivery, key refresh) had started: the failed
        // start stops them before disposing, so none is reported as a second, critical failure beside the bind error.
        await Task.Delay(500); // the host reports a faulted service as its task ends, just after the disposal returns
        Assert.DoesNotContain(logs.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Critical);
        Assert.DoesNotContain(logs.Errors, e => e.Contains("BackgroundService", StringComparison.Ordinal));
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Billing;

/// <summary>Delivers the usage spool to the database whenever records were spooled, retrying every second until it is back.</summary>
public sealed partial class LedgerDeliveryService(UsageLedger ledger, ILogger<LedgerDeliveryService> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        ledger.Spooled += Wake;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ledger.Spooled -= Wake;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ledger.DeliverSpoolAsync(cancellationToken).ConfigureAwait(false); // last try; what stays is delivered at the next start
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogLeftInSpool(logger, ex.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A spool left by the previous run is delivered at start; then after each spooled record, every second while
        // the database stays down.
        while (!stoppingToken.IsCancellationRequested)
        {
            bool down = false;
            try
            {
                await ledger.DeliverSpoolAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                down = true;
            }

            try
            {
                await _wake.WaitAsync(down ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    [LoggerMessage(EventId = 5204, Level = LogLevel.Warning, Message = "Usage records stay in the spool at shutdown ({Reason}); they are delivered at the next start")]
    private static partial void LogLeftInSpool(ILogger logger, string reason);
}

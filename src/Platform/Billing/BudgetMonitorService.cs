using Inference.Platform.Hosting;
using Microsoft.Extensions.Hosting;

namespace Inference.Platform.Billing;

/// <summary>Runs <see cref="BudgetMonitor.CheckAsync"/> every <see cref="PlatformOptions.BudgetCheckInterval"/> and issues last month's invoices once it has ended.</summary>
public sealed class BudgetMonitorService(BudgetMonitor monitor, InvoiceService invoices, PlatformOptions options, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan InvoiceGrace = TimeSpan.FromHours(1);
    private string? _issued;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.BudgetCheckInterval, time);
        do
        {
            try
            {
                await monitor.CheckAsync(stoppingToken).ConfigureAwait(false);
                DateTime now = time.GetUtcNow().UtcDateTime;
                var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
                // An hour's grace: records spooled during an outage at the month's end are in the ledger before it is billed.
                string lastMonth = UsageLedger.PeriodOf(monthStart.AddMonths(-1));
                if (time.GetUtcNow() >= monthStart + InvoiceGrace && lastMonth != _issued)
                {
                    await invoices.IssueAsync(lastMonth, stoppingToken).ConfigureAwait(false); // idempotent: another replica may have run it
                    _issued = lastMonth; // once per month per process, not at every tick
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database is down or a webhook misbehaves: the next tick retries (each part logs its own failure).
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}

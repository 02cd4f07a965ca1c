using Inference.Platform.Hosting;
using Inference.Platform.Organizations;
using Microsoft.Extensions.Hosting;

namespace Inference.Platform.Keys;

/// <summary>
/// Reloads <see cref="PlatformKeyStore"/> every <see cref="PlatformOptions.RefreshInterval"/>, and at once when this
/// replica changed a key, an app, a plan, overrides or a budget (other replicas see it at their next interval).
/// </summary>
public sealed class KeyStoreRefresher(PlatformKeyStore store, KeyService keys, OrganizationService organizations, Apps.AppService apps, PlatformOptions options) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        keys.Changed += Signal;
        organizations.Changed += Signal;
        apps.Changed += Signal;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await store.RefreshAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    await _changed.WaitAsync(options.RefreshInterval, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
        finally
        {
            keys.Changed -= Signal;
            organizations.Changed -= Signal;
            apps.Changed -= Signal;
        }
    }

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A reload is already due.
        }
    }
}

using Microsoft.Extensions.Hosting;

namespace Inference.Worker.Serving;

/// <summary>
/// Leaves process signals to the owner of the <see cref="WorkerServer"/> (the serve command drains on SIGTERM
/// before it stops the server), unlike the default console lifetime, which would stop Kestrel at once.
/// </summary>
internal sealed class ExternalHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using System.Runtime.InteropServices;

namespace Inference.Worker.Serving;

/// <summary>SIGTERM / SIGINT / SIGQUIT: the first requests a drain, the second forces the stop.</summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly TaskCompletionSource _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _forced = new();
    private readonly PosixSignalRegistration[] _registrations;

    public ShutdownSignal()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal),
        ];
    }

    public Task Requested => _requested.Task;

    public CancellationToken Forced => _forced.Token;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the drain decides when the process ends
        if (!_requested.TrySetResult())
        {
            _forced.Cancel();
        }
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _forced.Dispose();
    }
}

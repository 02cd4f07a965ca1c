using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Workers;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Workers;

/// <summary>Workers over the bundled model: in-process hosts and in-process gRPC servers on free ports.</summary>
internal static class TestWorkers
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static WorkerHost StartHost() => WorkerHost.Start(
        new WorkerOptions { ModelDir = RepoFiles.BundledModel(), KvCacheMemory = "32MiB" }, new EngineOptions(), servedModelName: null);

    public static async Task<WorkerServer> StartServerAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        WorkerServer server = await WorkerServer.StartAsync(new WorkerServerOptions { Port = 0 }, cancellationToken: timeout.Token);
        server.Attach(StartHost());
        return server;
    }

    public static async Task<GrpcWorker> ConnectAsync(Uri address)
    {
        var worker = new GrpcWorker(address);
        using var timeout = new CancellationTokenSource(Timeout);
        await worker.WaitUntilReadyAsync(timeout.Token);
        return worker;
    }

    /// <summary>Waits until <paramref name="condition"/> holds (state published by background loops), failing after the timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"timed out waiting until {what}");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    public static async Task<List<ServedEvent>> CollectAsync(IAsyncEnumerable<ServedEvent> events)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var list = new List<ServedEvent>();
        await foreach (ServedEvent e in events.WithCancellation(timeout.Token))
        {
            list.Add(e);
        }

        return list;
    }
}

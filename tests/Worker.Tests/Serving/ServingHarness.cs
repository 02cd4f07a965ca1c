using Grpc.Net.Client;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Inference.Worker.Tests.Demo;
using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Tests.Serving;

/// <summary>A worker server on a free loopback port over the bundled model, and a generated client for it.</summary>
internal sealed class ServingHarness : IAsyncDisposable
{
    private ServingHarness(WorkerServer server, WorkerHost host, GrpcChannel channel)
    {
        Server = server;
        Host = host;
        Channel = channel;
        Client = new Proto.Worker.WorkerClient(channel);
        Health = new global::Grpc.Health.V1.Health.HealthClient(channel);
    }

    public WorkerServer Server { get; }

    public WorkerHost Host { get; }

    public GrpcChannel Channel { get; }

    public Proto.Worker.WorkerClient Client { get; }

    public global::Grpc.Health.V1.Health.HealthClient Health { get; }

    public static async Task<ServingHarness> StartAsync(TimeSpan? drainTimeout = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        WorkerServer server = await WorkerServer.StartAsync(
            new WorkerServerOptions { Port = 0, DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(30) },
            cancellationToken: timeout.Token);
        WorkerHost host = WorkerHost.Start(
            new WorkerOptions { ModelDir = BundledModel.Directory(), KvCacheMemory = "32MiB" },
            new EngineOptions(),
            servedModelName: null);
        server.Attach(host);
        return new ServingHarness(server, host, GrpcChannel.ForAddress(server.Address));
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }
}

using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Inference.Gateway.Tests.Grpc;

/// <summary>
/// grpc.health.v1 Watch over the real gRPC ports, as the health checking protocol says: an unknown service gets
/// SERVICE_UNKNOWN and the call stays open; a known one gets its status and every change (SERVING to NOT_SERVING
/// when the gateway drains).
/// </summary>
[Collection(ModelCollection.Name)]
public sealed class HealthWatchTests(ModelFixture model)
{
    // Long enough for a server that ends the call at once to be seen doing it, short enough to keep the test fast.
    private static readonly TimeSpan StaysOpenFor = TimeSpan.FromMilliseconds(700);

    [Fact]
    public async Task GatewayWatch_UnknownService_SendsServiceUnknown_AndStaysOpenUntilCancelled()
    {
        await using TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        using GrpcChannel channel = GrpcChannel.ForAddress(gateway.Host.GrpcAddress!);

        await AssertUnknownServiceWatchStaysOpenAsync(new Health.HealthClient(channel));
    }

    [Fact]
    public async Task WorkerDaemonWatch_UnknownService_SendsServiceUnknown_AndStaysOpenUntilCancelled()
    {
        // The daemon's health service before a model is attached (NOT_SERVING, "loading"): the protocol is the same.
        await using WorkerServer server = await WorkerServer.StartAsync(new WorkerServerOptions { Port = 0 }, configureLogging: b => b.ClearProviders()).Within();
        using GrpcChannel channel = GrpcChannel.ForAddress(server.Address);
        var health = new Health.HealthClient(channel);

        await AssertUnknownServiceWatchStaysOpenAsync(health);
        using AsyncServerStreamingCall<HealthCheckResponse> all = health.Watch(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.True(await all.ResponseStream.MoveNext().Within());
        Assert.Equal(ServingStatus.NotServing, all.ResponseStream.Current.Status);
    }

    [Fact]
    public async Task GatewayWatch_Overall_ServingThenNotServingOnDrain_ThenEndsWithoutHoldingTheDrain()
    {
        TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        try
        {
            using GrpcChannel channel = GrpcChannel.ForAddress(gateway.Host.GrpcAddress!);
            var health = new Health.HealthClient(channel);
            using var cts = new CancellationTokenSource(TestTimeouts.Call);
            using AsyncServerStreamingCall<HealthCheckResponse> all = health.Watch(new HealthCheckRequest(), cancellationToken: cts.Token);
            using AsyncServerStreamingCall<HealthCheckResponse> api = health.Watch(new HealthCheckRequest { Service = "inference.v1.InferenceService" }, cancellationToken: cts.Token);
            Assert.True(await all.ResponseStream.MoveNext(cts.Token));
            Assert.Equal(ServingStatus.Serving, all.ResponseStream.Current.Status);
            Assert.True(await api.ResponseStream.MoveNext(cts.Token));
            Assert.Equal(ServingStatus.Serving, api.ResponseStream.Current.Status);

            var clock = Stopwatch.StartNew();
            Task<bool> drain = gateway.Host.DrainAsync(cts.Token);

            foreach (AsyncServerStreamingCall<HealthCheckResponse> call in new[] { all, api })
            {
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
                Assert.Equal(ServingStatus.NotServing, call.ResponseStream.Current.Status);
                Assert.False(await call.ResponseStream.MoveNext(cts.Token)); // the call ends cleanly with the host
                Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
            }

            Assert.True(await drain.WaitAsync(cts.Token));
            // The drain timeout is 10 s: an open watch must not hold the shutdown until it expires.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the drain took {clock.Elapsed}");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    private static async Task AssertUnknownServiceWatchStaysOpenAsync(Health.HealthClient health)
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Call);
        using AsyncServerStreamingCall<HealthCheckResponse> call = health.Watch(new HealthCheckRequest { Service = "nope" }, cancellationToken: cts.Token);

        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(ServingStatus.ServiceUnknown, call.ResponseStream.Current.Status);
        Task<bool> next = call.ResponseStream.MoveNext(cts.Token);
        Task first = await Task.WhenAny(next, Task.Delay(StaysOpenFor, cts.Token));
        Assert.NotSame(next, first); // no end of stream, no error: the call is still open

        await cts.CancelAsync();
        RpcException cancelled = await Assert.ThrowsAsync<RpcException>(() => next).Within();
        Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);
    }
}

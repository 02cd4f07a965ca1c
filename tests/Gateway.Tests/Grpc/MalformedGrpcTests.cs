using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Grpc;

/// <summary>
/// Bytes a generated client would never send, on the public gRPC port: each gets the status the gRPC spec gives it,
/// without an Error log (TestGateway fails the test on one), and the next call is served.
/// </summary>
[Collection(ModelCollection.Name)]
public sealed class MalformedGrpcTests(ModelFixture model) : IAsyncLifetime
{
    private static readonly Method<byte[], byte[]> RawComplete = new(
        MethodType.ServerStreaming, "inference.v1.InferenceService", "Complete", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        _channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!, new GrpcChannelOptions { MaxSendMessageSize = null });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Complete_UndecodableMessage_IsInternal_ThenServed()
    {
        // Field 2 (text) as a length-delimited value claiming 100 bytes, with 1 present.
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => CallRawAsync([0x12, 100, 0x41]));

        Assert.Equal(StatusCode.Internal, ex.StatusCode); // the gRPC spec's status for a request that does not parse
        await AssertServedAsync();
    }

    [Fact]
    public async Task Complete_MessageOverTheReceiveLimit_IsResourceExhausted_ThenServed()
    {
        byte[] huge = new CompleteRequest { Model = ModelFixture.ModelName, Text = new string('a', 5 * 1024 * 1024) }.ToByteArray();

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => CallRawAsync(huge));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        await AssertServedAsync();
    }

    private async Task CallRawAsync(byte[] message)
    {
        using AsyncServerStreamingCall<byte[]> call = _channel.CreateCallInvoker().AsyncServerStreamingCall(
            RawComplete, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), message);
        while (await call.ResponseStream.MoveNext().Within())
        {
        }
    }

    private async Task AssertServedAsync()
    {
        var client = new InferenceService.InferenceServiceClient(_channel);
        using AsyncServerStreamingCall<CompletionChunk> call = client.Complete(
            new CompleteRequest { Model = ModelFixture.ModelName, Text = "The jury", Sampling = new SamplingOptions { MaxTokens = 2 } },
            deadline: DateTime.UtcNow.AddSeconds(30));
        var chunks = new List<CompletionChunk>();
        await foreach (CompletionChunk c in call.ResponseStream.ReadAllAsync())
        {
            chunks.Add(c);
        }

        Assert.True(chunks[^1].Usage.CompletionTokens >= 1);
    }
}

using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

/// <summary>The public gRPC API of the platform's stack takes the platform's keys and meters to its ledger.</summary>
public sealed class PlatformGrpcTests
{
    [Fact]
    public async Task Chat_WithAPlatformKey_StreamsIsMeteredAndARevokedKeyIsUnauthenticated()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, grpc: true);
        var (_, token) = await stack.SignUpAsync("grpc@example.com");
        string org = await stack.CreateOrgAsync(token, "Streams");
        var (keyId, secret) = await stack.CreateKeyAsync(token, org);
        using GrpcChannel channel = GrpcChannel.ForAddress(stack.Host.Gateway.GrpcAddress!);
        var client = new InferenceService.InferenceServiceClient(channel);
        var request = new ChatRequest { Model = "brown-llama-5m", Sampling = new SamplingOptions { MaxTokens = 5, Temperature = 0 } };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "The jury said" });
        var auth = new Metadata { { "authorization", "Bearer " + secret } };

        long completion = 0;
        using (AsyncServerStreamingCall<CompletionChunk> call = client.Chat(request, auth, DateTime.UtcNow.AddSeconds(60)))
        {
            await foreach (CompletionChunk chunk in call.ResponseStream.ReadAllAsync())
            {
                completion = chunk.Usage?.CompletionTokens ?? completion;
            }
        }

        Assert.InRange(completion, 1, 5);
        var (_, usage) = await stack.GetAsync($"/api/orgs/{org}/usage", token);
        Assert.Equal(1, usage.GetProperty("requests").GetInt64());
        Assert.Equal(completion, usage.GetProperty("completion_tokens").GetInt64());

        Assert.Equal(HttpStatusCode.OK, (await stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}/keys/{keyId}", token: token)).Status);
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using AsyncServerStreamingCall<CompletionChunk> call = client.Chat(request, auth, DateTime.UtcNow.AddSeconds(60));
            await foreach (CompletionChunk _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task Chat_WithAnAppKey_IsPermissionDenied()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, grpc: true);
        var (_, _, design) = await Web.HostedAppTests.PublishedAppAsync(stack, "grpc@example.com", "Math Hints");
        using GrpcChannel channel = GrpcChannel.ForAddress(stack.Host.Gateway.GrpcAddress!);
        var client = new InferenceService.InferenceServiceClient(channel);
        var request = new ChatRequest { Model = "brown-llama-5m", Sampling = new SamplingOptions { MaxTokens = 5 } };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "The jury said" });
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using AsyncServerStreamingCall<CompletionChunk> call = client.Chat(request, new Metadata { { "authorization", "Bearer " + design.PublicKey } }, DateTime.UtcNow.AddSeconds(60));
            await foreach (CompletionChunk _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("app key", ex.Status.Detail);
    }
}

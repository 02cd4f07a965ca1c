using Grpc.Net.Client;
using Microsoft.Extensions.AI;

namespace Inference.Client;

/// <summary>Creates <see cref="IChatClient"/>s for the gateway's gRPC API.</summary>
public static class InferenceChatClientExtensions
{
    /// <summary>
    /// An <see cref="IChatClient"/> over this channel (<see cref="InferenceChatClient"/>); disposing the client leaves
    /// the channel open.
    /// </summary>
    public static IChatClient AsIChatClient(this GrpcChannel channel, string? defaultModelId = null, string? apiKey = null) =>
        new InferenceChatClient(channel, defaultModelId, apiKey);
}

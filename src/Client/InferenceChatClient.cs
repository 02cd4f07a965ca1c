using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Client.Mapping;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client;

/// <summary>
/// An <see cref="IChatClient"/> over the gateway's public gRPC API (<c>inference.v1.InferenceService.Chat</c>, h2c or
/// TLS). Each call is one server-streamed <c>Chat</c> RPC: <see cref="GetStreamingResponseAsync"/> yields its chunks as
/// updates, <see cref="GetResponseAsync"/> assembles the same updates into one <see cref="ChatResponse"/>.
/// </summary>
/// <remarks>
/// <para>
/// Requests ask for one choice (<c>n = 1</c>): <see cref="IChatClient"/> has no notion of several. Options without an
/// equivalent on the gateway (<see cref="ChatOptions.ConversationId"/>, <see cref="ChatOptions.Reasoning"/>, ...) and
/// unknown <see cref="ChatOptions.AdditionalProperties"/> are refused with <see cref="NotSupportedException"/> or
/// <see cref="ArgumentException"/> before anything is sent; ranges are checked by the server, whose refusals surface
/// as <see cref="InferenceServiceException"/> naming the field.
/// </para>
/// <para>
/// Disposal: a client built from an endpoint owns the <see cref="GrpcChannel"/> it created and disposes it; a
/// client built over a caller's channel never disposes that channel. The client is thread-safe.
/// </para>
/// </remarks>
public sealed class InferenceChatClient : IChatClient
{
    /// <summary>The <see cref="ChatClientMetadata.ProviderName"/> of this client.</summary>
    public const string ProviderName = "inference";

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;
    private readonly Proto.InferenceService.InferenceServiceClient _client;
    private readonly string? _authorization;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A client over a caller's channel; the channel is not disposed with the client.</summary>
    /// <param name="channel">A channel to the gateway's gRPC port.</param>
    /// <param name="defaultModelId">The model used when <see cref="ChatOptions.ModelId"/> is not set.</param>
    /// <param name="apiKey">Sent as <c>authorization: Bearer</c> metadata on every call; null sends none.</param>
    public InferenceChatClient(GrpcChannel channel, string? defaultModelId = null, string? apiKey = null)
        : this(channel, ownsChannel: false, endpoint: null, defaultModelId, apiKey)
    {
    }

    /// <summary>A client that creates, and owns, a channel to <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">The gateway's gRPC address: <c>http://host:8001</c> (cleartext HTTP/2) or <c>https://...</c>.</param>
    /// <param name="apiKey">Sent as <c>authorization: Bearer</c> metadata on every call; null sends none.</param>
    /// <param name="defaultModelId">The model used when <see cref="ChatOptions.ModelId"/> is not set.</param>
    public InferenceChatClient(Uri endpoint, string? apiKey, string? defaultModelId = null)
        : this(CreateChannel(endpoint), ownsChannel: true, endpoint, defaultModelId, apiKey)
    {
    }

    private InferenceChatClient(GrpcChannel channel, bool ownsChannel, Uri? endpoint, string? defaultModelId, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _channel = channel;
        _ownsChannel = ownsChannel;
        _client = new Proto.InferenceService.InferenceServiceClient(channel);
        _authorization = string.IsNullOrEmpty(apiKey) ? null : "Bearer " + apiKey;
        DefaultModelId = defaultModelId;
        // A caller's channel does not expose its address's scheme, only host:port (ChannelBase.Target).
        _metadata = new ChatClientMetadata(ProviderName, endpoint, defaultModelId);
    }

    /// <summary>The model used when a request's <see cref="ChatOptions.ModelId"/> is not set.</summary>
    public string? DefaultModelId { get; }

    /// <inheritdoc />
    /// <remarks>The same stream as <see cref="GetStreamingResponseAsync"/>, folded into one response; the gateway's
    /// per-request figures (<see cref="InferenceResponseProperties"/>) are in <see cref="ChatResponse.AdditionalProperties"/>.</remarks>
    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
        }

        ChatResponse response = updates.ToChatResponse();
        // ToChatResponse files an update's properties under its message; these describe the whole request.
        if (updates.FindLast(u => u.AdditionalProperties is not null)?.AdditionalProperties is { } properties)
        {
            response.AdditionalProperties = new AdditionalPropertiesDictionary(properties);
        }

        return response;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Mapped here, not in the iterator, so a refused option throws at the call rather than at the first MoveNext.
        Proto.ChatRequest request = ChatRequestMapper.ToRequest(messages, options, DefaultModelId);
        return StreamAsync(request, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(Proto.ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var updates = new ChatUpdateMapper();
        AsyncServerStreamingCall<Proto.CompletionChunk> call;
        try
        {
            // Metadata is mutable: a fresh one per call, so concurrent calls share nothing.
            Metadata? headers = _authorization is null ? null : new Metadata { { "authorization", _authorization } };
            call = _client.Chat(request, new CallOptions(headers, cancellationToken: cancellationToken));
        }
        catch (RpcException ex)
        {
            throw RpcErrorMapper.Map(ex, cancellationToken);
        }

        // Disposing the call (also when the consumer stops early) cancels it: the gateway aborts the request.
        using (call)
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                }
                catch (RpcException ex)
                {
                    throw RpcErrorMapper.Map(ex, cancellationToken);
                }

                if (!more)
                {
                    break;
                }

                if (updates.Add(call.ResponseStream.Current) is { } update)
                {
                    yield return update;
                }
            }

            if (updates.Complete() is { } rest)
            {
                yield return rest;
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType == typeof(GrpcChannel) ? _channel
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Disposes the channel when this client created it (the endpoint constructor); otherwise does nothing.</summary>
    public void Dispose()
    {
        if (_ownsChannel)
        {
            _channel.Dispose();
        }
    }

    private static GrpcChannel CreateChannel(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
        {
            // Cancellation by the caller's token surfaces as OperationCanceledException, as IChatClient callers expect.
            ThrowOperationCanceledOnCancellation = true,
            HttpHandler = new SocketsHttpHandler
            {
                // One HTTP/2 connection carries at most ~100 concurrent streams by default; more calls open more.
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            },
            DisposeHttpClient = true,
        });
    }
}

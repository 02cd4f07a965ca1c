using System.Buffers;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Inference.Gateway.Grpc;

/// <summary>
/// Binds inference.proto's methods to <see cref="InferenceGrpcService"/> (in place of the generated base class's
/// binder) with request deserializers that answer a message that does not parse with the gRPC spec's INTERNAL,
/// logged at Information like any refused call, instead of an unhandled exception (UNKNOWN and an Error log).
/// </summary>
internal sealed class InferenceMethodProvider : IServiceMethodProvider<InferenceGrpcService>
{
    private static readonly string ServiceName = InferenceService.Descriptor.FullName;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<InferenceGrpcService> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.AddServerStreamingMethod(
            Method(MethodType.ServerStreaming, "Complete", CompleteRequest.Parser, CompletionChunk.Parser), [], (s, r, w, c) => s.Complete(r, w, c));
        context.AddServerStreamingMethod(
            Method(MethodType.ServerStreaming, "Chat", ChatRequest.Parser, CompletionChunk.Parser), [], (s, r, w, c) => s.Chat(r, w, c));
        context.AddUnaryMethod(
            Method(MethodType.Unary, "ListModels", ListModelsRequest.Parser, ListModelsResponse.Parser), [], (s, r, c) => s.ListModels(r, c));
        context.AddUnaryMethod(
            Method(MethodType.Unary, "Tokenize", TokenizeRequest.Parser, TokenizeResponse.Parser), [], (s, r, c) => s.Tokenize(r, c));
    }

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(
        MethodType type, string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(type, ServiceName, name, Marshaller(request), Marshaller(response));

    private static Marshaller<T> Marshaller<T>(MessageParser<T> parser)
        where T : class, IMessage<T> =>
        Marshallers.Create<T>(
            (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context =>
            {
                try
                {
                    return parser.ParseFrom(context.PayloadAsReadOnlySequence());
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw new RpcException(new Status(StatusCode.Internal, $"The request is not a valid {typeof(T).Name} message: {ex.Message}"));
                }
            });
}

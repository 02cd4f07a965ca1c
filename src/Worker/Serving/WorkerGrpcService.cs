using Grpc.Core;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Serving;

/// <summary>
/// worker.proto's Worker service over the daemon's <see cref="WorkerHost"/>. Refusals become statuses with
/// the worker-error-* trailers before any event; a cancelled call (client gone) aborts its request, since
/// the host's enumeration aborts the request when its token fires.
/// </summary>
internal sealed class WorkerGrpcService : Proto.Worker.WorkerBase
{
    private readonly WorkerServingState _state;
    private readonly WorkerServerOptions _options;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<WorkerGrpcService> _logger;

    public WorkerGrpcService(
        WorkerServingState state, WorkerServerOptions options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<WorkerGrpcService> logger)
    {
        _lifetime = lifetime;
        _state = state;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public override Task<Proto.InfoReply> Info(Proto.InfoRequest request, ServerCallContext context) =>
        Task.FromResult(WorkerProtoMapping.ToProto(RequireHost().Info));

    public override Task<Proto.TokenizeReply> Tokenize(Proto.TokenizeRequest request, ServerCallContext context)
    {
        WorkerHost host = RequireHost();
        try
        {
            int[] ids = request.InputCase switch
            {
                Proto.TokenizeRequest.InputOneofCase.Text => host.Tokenize(request.Text.Text, request.Text.AddSpecialTokens),
                Proto.TokenizeRequest.InputOneofCase.Chat => host.ApplyChatTemplate(WorkerProtoMapping.FromProto(request.Chat), request.Chat.AddGenerationPrompt, WorkerProtoMapping.ToolsFromProto(request.Chat)),
                _ => throw new WorkerException(RefusalKind.Invalid, "give either text or chat messages", "input"),
            };
            var reply = new Proto.TokenizeReply();
            reply.Ids.AddRange(ids);
            return Task.FromResult(reply);
        }
        catch (WorkerException ex)
        {
            throw WorkerErrorMapping.ToRpcException(ex);
        }
    }

    public override Task<Proto.DetokenizeReply> Detokenize(Proto.DetokenizeRequest request, ServerCallContext context)
    {
        WorkerHost host = RequireHost();
        try
        {
            bool skip = !request.HasSkipSpecialTokens || request.SkipSpecialTokens;
            return Task.FromResult(new Proto.DetokenizeReply { Text = host.Detokenize(request.Ids, skip) });
        }
        catch (WorkerException ex)
        {
            throw WorkerErrorMapping.ToRpcException(ex);
        }
    }

    public override async Task Generate(Proto.GenerateRequest request, IServerStreamWriter<Proto.GenerateEvent> responseStream, ServerCallContext context)
    {
        _state.GenerateStarted();
        try
        {
            IAsyncEnumerable<ServedEvent> events;
            string requestId = request.RequestId;
            try
            {
                if (_state.Draining)
                {
                    throw new WorkerException(RefusalKind.Unavailable, "the worker is draining");
                }

                WorkerHost host = RequireHostOrThrow();
                GenerationRequest generation = WorkerProtoMapping.FromProto(request);
                events = host.Generate(generation, context.CancellationToken);
            }
            catch (WorkerException ex)
            {
                WorkerServerLog.GenerateRefused(_logger, requestId, ex.Kind, ex.Message);
                throw WorkerErrorMapping.ToRpcException(ex);
            }

            try
            {
                await foreach (ServedEvent e in events.ConfigureAwait(false))
                {
                    await responseStream.WriteAsync(WorkerProtoMapping.ToProto(e), context.CancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
            {
                // The client went away or cancelled: the host's enumeration has aborted the request.
                WorkerServerLog.GenerateCancelled(_logger, requestId);
            }
        }
        finally
        {
            _state.GenerateEnded();
        }
    }

    public override Task<Proto.AbortReply> Abort(Proto.AbortRequest request, ServerCallContext context)
    {
        RequireHost().Abort(request.RequestId);
        return Task.FromResult(new Proto.AbortReply());
    }

    public override async Task Stats(Proto.StatsRequest request, IServerStreamWriter<Proto.LoadReport> responseStream, ServerCallContext context)
    {
        WorkerHost host = RequireHost();

        // Subscriptions never end by themselves: stopping the server ends them at once instead of holding
        // the shutdown until Kestrel's timeout.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _lifetime.ApplicationStopping);
        using var timer = new PeriodicTimer(_options.StatsInterval, _time);
        try
        {
            do
            {
                await responseStream.WriteAsync(WorkerProtoMapping.ToProto(host.Stats, _state.Draining), stop.Token).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The subscriber left or the server is stopping: a normal end of the stream.
        }
    }

    private WorkerHost RequireHost()
    {
        try
        {
            return RequireHostOrThrow();
        }
        catch (WorkerException ex)
        {
            throw WorkerErrorMapping.ToRpcException(ex);
        }
    }

    private WorkerHost RequireHostOrThrow() =>
        _state.Host ?? throw new WorkerException(RefusalKind.Unavailable, "the worker is loading its model");
}

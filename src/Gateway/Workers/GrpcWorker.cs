using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Proto = Inference.Worker.Grpc;

namespace Inference.Gateway.Workers;

/// <summary>
/// A worker daemon over gRPC (worker.proto, h2c). A background monitor calls Info until the daemon answers
/// (backing off), then keeps a Stats subscription open: each report refreshes <see cref="Load"/> and the
/// state (Ready, or Draining when the daemon says so). A failed or silent stream (nothing for
/// <see cref="GrpcWorkerOptions.StaleAfter"/>) makes it Down, fails its running Generate calls as
/// Unavailable, and the monitor reconnects. Refusals come back as the worker's own <see cref="WorkerException"/>.
/// </summary>
public sealed class GrpcWorker : IWorker
{
    private readonly GrpcChannel _channel;
    private readonly Proto.Worker.WorkerClient _client;
    private readonly GrpcWorkerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _monitor;
    private volatile WorkerInfo? _info;
    private volatile EngineStats? _load;
    private volatile WorkerState _state = WorkerState.Starting;
    private long _loadAtTicks;

    // Cancelled when the current connection is found dead; Generate calls link to the one current at their start.
    private CancellationTokenSource _connection = new();

    /// <summary>Creates the channel and starts connecting in the background (see <see cref="WaitUntilReadyAsync"/>).</summary>
    public GrpcWorker(Uri address, GrpcWorkerOptions? options = null, TimeProvider? time = null, ILogger<GrpcWorker>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        _options = options ?? new GrpcWorkerOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<GrpcWorker>.Instance;
        Id = address.GetLeftPart(UriPartial.Authority);
        Address = address;
        var handler = new SocketsHttpHandler
        {
            // More than 100 concurrent streams (the usual HTTP/2 limit) open another connection instead of queueing.
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,

            // Finds a silently dead peer (no RST) under a long generation.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
        };
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        _client = new Proto.Worker.WorkerClient(_channel);
        _monitor = Task.Run(MonitorAsync);
    }

    public string Id { get; }

    public Uri Address { get; }

    public WorkerInfo? Info => _info;

    public WorkerState State
    {
        get
        {
            WorkerState state = _state;
            if (state is WorkerState.Ready or WorkerState.Draining && _time.GetUtcNow() - LoadAt > _options.StaleAfter)
            {
                return WorkerState.Down; // the monitor will notice too; readers must not wait for it
            }

            return state;
        }
    }

    public EngineStats? Load => _load;

    public DateTimeOffset LoadAt => new(Interlocked.Read(ref _loadAtTicks), TimeSpan.Zero);

    /// <summary>Completes when the daemon first reported itself ready.</summary>
    public Task WaitUntilReadyAsync(CancellationToken cancellationToken) => _firstReady.Task.WaitAsync(cancellationToken);

    public async Task<int[]> TokenizeAsync(string text, bool addSpecialTokens, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        var request = new Proto.TokenizeRequest { Text = new Proto.TextInput { Text = text, AddSpecialTokens = addSpecialTokens } };
        Proto.TokenizeReply reply = await UnaryAsync(c => c.TokenizeAsync(request, Options(cancellationToken)), cancellationToken).ConfigureAwait(false);
        return [.. reply.Ids];
    }

    public async Task<int[]> ApplyChatTemplateAsync(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var request = new Proto.TokenizeRequest { Chat = WorkerProtoMapping.ToProto(messages, addGenerationPrompt, tools) };
        Proto.TokenizeReply reply = await UnaryAsync(c => c.TokenizeAsync(request, Options(cancellationToken)), cancellationToken).ConfigureAwait(false);
        return [.. reply.Ids];
    }

    public async Task<string> DetokenizeAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var request = new Proto.DetokenizeRequest { SkipSpecialTokens = true };
        request.Ids.AddRange(ids);
        Proto.DetokenizeReply reply = await UnaryAsync(c => c.DetokenizeAsync(request, Options(cancellationToken)), cancellationToken).ConfigureAwait(false);
        return reply.Text;
    }

    /// <summary>Aborts a request by id (cancelling its enumeration does the same).</summary>
    public async Task AbortAsync(string requestId, CancellationToken cancellationToken)
    {
        var request = new Proto.AbortRequest { RequestId = requestId };
        await UnaryAsync(c => c.AbortAsync(request, Options(cancellationToken)), cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ServedEvent> GenerateAsync(
        GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Proto.GenerateRequest proto = WorkerProtoMapping.ToProto(request);
        CancellationToken connectionLost = Volatile.Read(ref _connection).Token;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connectionLost);

        // Disposing the call (an abandoned enumeration) or cancelling it resets the HTTP/2 stream: the daemon
        // sees its call cancelled and aborts the request.
        using AsyncServerStreamingCall<Proto.GenerateEvent> call = _client.Generate(proto, new CallOptions(cancellationToken: linked.Token));
        while (true)
        {
            bool more;
            try
            {
                more = await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("the request was cancelled", ex, cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && connectionLost.IsCancellationRequested)
            {
                throw new WorkerException(RefusalKind.Unavailable, $"lost worker {Id} during the request (no load report for {_options.StaleAfter.TotalSeconds:0.#} s)");
            }
            catch (RpcException ex)
            {
                throw WorkerErrorMapping.FromRpcException(ex, Id);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            if (!more)
            {
                yield break;
            }

            yield return WorkerProtoMapping.FromProto(call.ResponseStream.Current);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _monitor.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The monitor ends by cancellation.
        }

        _state = WorkerState.Down;
        await Volatile.Read(ref _connection).CancelAsync().ConfigureAwait(false);
        _channel.Dispose();
        _stop.Dispose();
    }

    private CallOptions Options(CancellationToken cancellationToken) =>
        new(deadline: _time.GetUtcNow().UtcDateTime + _options.CallTimeout, cancellationToken: cancellationToken);

    private async Task<T> UnaryAsync<T>(Func<Proto.Worker.WorkerClient, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(_client).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the call was cancelled", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw WorkerErrorMapping.FromRpcException(ex, Id);
        }
    }

    private async Task MonitorAsync()
    {
        CancellationToken stop = _stop.Token;
        TimeSpan delay = _options.InitialReconnectDelay;
        while (!stop.IsCancellationRequested)
        {
            string reason;
            try
            {
                if (await WatchAsync(stop).ConfigureAwait(false))
                {
                    delay = _options.InitialReconnectDelay; // it was up: reconnect quickly
                }

                reason = "the load report stream ended";
            }
            catch (RpcException ex) when (!stop.IsCancellationRequested)
            {
                reason = ex.StatusCode == StatusCode.Cancelled ? $"no load report for {_options.StaleAfter.TotalSeconds:0.#} s" : $"{ex.StatusCode}: {ex.Status.Detail}";
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                reason = $"no load report for {_options.StaleAfter.TotalSeconds:0.#} s";
            }
            catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                return; // disposed
            }

            await MarkLostAsync(reason).ConfigureAwait(false);
            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    /// <summary>One connection: Info, then Stats until it fails or goes silent. True when a report arrived.</summary>
    private async Task<bool> WatchAsync(CancellationToken stop)
    {
        Proto.InfoReply info = await _client.InfoAsync(new Proto.InfoRequest(), Options(stop)).ResponseAsync.ConfigureAwait(false);
        _info = WorkerProtoMapping.FromProto(info);

        using var watchdog = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, watchdog.Token);
        watchdog.CancelAfter(_options.StaleAfter);
        using AsyncServerStreamingCall<Proto.LoadReport> call = _client.Stats(new Proto.StatsRequest(), new CallOptions(cancellationToken: linked.Token));
        bool reported = false;
        while (await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
        {
            watchdog.CancelAfter(_options.StaleAfter);
            Proto.LoadReport report = call.ResponseStream.Current;
            _load = WorkerProtoMapping.FromProto(report);
            Interlocked.Exchange(ref _loadAtTicks, _time.GetUtcNow().UtcTicks);
            WorkerState next = report.Draining ? WorkerState.Draining : WorkerState.Ready;
            WorkerState previous = _state;
            _state = next;
            reported = true;
            if (previous != next)
            {
                if (next == WorkerState.Ready)
                {
                    WorkersLog.WorkerReady(_logger, Id, _info?.Model ?? "?");
                    _firstReady.TrySetResult();
                }
                else
                {
                    WorkersLog.WorkerDraining(_logger, Id);
                }
            }
        }

        return reported;
    }

    private async Task MarkLostAsync(string reason)
    {
        WorkerState previous = _state;
        if (previous == WorkerState.Starting)
        {
            WorkersLog.WorkerUnreachable(_logger, Id, reason);
            return; // never reached yet: still starting, not down
        }

        _state = WorkerState.Down;
        if (previous != WorkerState.Down)
        {
            WorkersLog.WorkerDown(_logger, Id, reason);
        }

        CancellationTokenSource lost = Interlocked.Exchange(ref _connection, new CancellationTokenSource());
        await lost.CancelAsync().ConfigureAwait(false); // not disposed: a Generate starting now may still link to it
    }
}

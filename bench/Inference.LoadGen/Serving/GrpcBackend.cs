using System.Diagnostics;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;

namespace Inference.LoadGen.Serving;

/// <summary>Streams inference.v1 InferenceService.Complete (or Chat with a system prompt), timing every delta with
/// output; tokens on the wire are the deltas' token ids.</summary>
internal sealed class GrpcBackend : IServingBackend
{
    private readonly BackendOptions _options;
    private readonly GrpcChannel _channel;
    private readonly InferenceService.InferenceServiceClient _client;

    public GrpcBackend(BackendOptions options)
    {
        _options = options;
        _channel = GrpcChannel.ForAddress(options.BaseUrl, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                // One HTTP/2 connection carries ~100 concurrent streams; more concurrency opens more connections.
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            },
            DisposeHttpClient = true,
        });
        _client = new InferenceService.InferenceServiceClient(_channel);
    }

    public string Name => "grpc";

    public async Task<RequestOutcome> SendAsync(BenchRequest request, CancellationToken cancellationToken)
    {
        var outcome = new RequestOutcome { PromptTokens = request.PromptTokens };
        var sampling = new SamplingOptions
        {
            MaxTokens = request.MaxTokens,
            Temperature = (float)_options.Temperature,
            IgnoreEos = _options.IgnoreEos,
        };
        var headers = new Metadata();
        if ((request.ApiKey ?? _options.ApiKey) is { } key)
        {
            headers.Add("authorization", "Bearer " + key);
        }

        StringBuilder? text = _options.KeepText ? new StringBuilder() : null;
        var callOptions = new CallOptions(headers, DateTime.UtcNow + _options.RequestTimeout, cancellationToken);
        long sent = Stopwatch.GetTimestamp();
        long last = 0;
        try
        {
            using AsyncServerStreamingCall<CompletionChunk> call = request.SystemPrompt is null
                ? _client.Complete(new CompleteRequest { Model = _options.Model, Text = request.Prompt, Sampling = sampling }, callOptions)
                : _client.Chat(new ChatRequest
                {
                    Model = _options.Model,
                    Messages =
                    {
                        new ChatMessage { Role = "system", Content = request.SystemPrompt },
                        new ChatMessage { Role = "user", Content = request.Prompt },
                    },
                    Sampling = sampling,
                }, callOptions);
            await foreach (CompletionChunk chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                foreach (ChoiceDelta delta in chunk.Choices)
                {
                    if (delta.Index != 0 || (delta.TokenIds.Count == 0 && delta.Text.Length == 0))
                    {
                        continue;
                    }

                    long now = Stopwatch.GetTimestamp();
                    if (outcome.StreamedTokens == 0)
                    {
                        outcome.Ttft = Stopwatch.GetElapsedTime(sent, now).TotalSeconds;
                    }
                    else
                    {
                        outcome.Itl.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                    }

                    last = now;
                    outcome.StreamedTokens += Math.Max(1, delta.TokenIds.Count);
                    text?.Append(delta.Text);
                }

                if (chunk.Usage is { } usage)
                {
                    outcome.UsageCompletionTokens = usage.CompletionTokens;
                    outcome.UsagePromptTokens = usage.PromptTokens;
                }
            }

            // As over HTTP: a stream that ended without output though the usage counts tokens lost them on the way.
            outcome.Success = outcome.StreamedTokens > 0 || outcome.UsageCompletionTokens == 0;
            if (!outcome.Success)
            {
                outcome.ErrorKind = "empty_stream";
            }
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            outcome.ErrorKind = ex.StatusCode == StatusCode.DeadlineExceeded ? "timeout" : "grpc_" + ex.StatusCode.ToString().ToLowerInvariant();
            outcome.ErrorMessage = ex.Status.Detail;
        }

        outcome.Latency = Stopwatch.GetElapsedTime(sent).TotalSeconds;
        outcome.Text = text?.ToString();
        return outcome;
    }

    public void Dispose() => _channel.Dispose();
}

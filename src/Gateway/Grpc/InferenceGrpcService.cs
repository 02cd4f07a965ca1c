using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Scheduler;
using SchedulerFinish = Inference.Scheduler.FinishReason;
using Inference.Worker.Serving;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Gateway.Grpc;

/// <summary>
/// The public gRPC API (inference.proto). Requests are translated to the HTTP API's JSON and parsed by the
/// same <see cref="RequestParser"/>, so parameters, validation and messages are identical on both doors.
/// Its methods are bound by <see cref="InferenceMethodProvider"/> (see <see cref="AddServices"/>).
/// </summary>
public sealed class InferenceGrpcService
{
    private readonly GatewayService _service;

    public InferenceGrpcService(GatewayService service)
    {
        _service = service;
    }

    /// <summary>Registers the method binding (call before the app is built).</summary>
    public static void AddServices(IServiceCollection services) =>
        services.AddSingleton<IServiceMethodProvider<InferenceGrpcService>, InferenceMethodProvider>();

    public static void Map(WebApplication app, GatewayService service, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (enabled)
        {
            app.MapGrpcService<InferenceGrpcService>();
            app.MapGrpcService<GatewayHealthService>();
        }
    }

    public async Task Complete(CompleteRequest request, IServerStreamWriter<CompletionChunk> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        byte[] json = Json(w =>
        {
            w.WriteString("model", request.Model);
            switch (request.PromptCase)
            {
                case CompleteRequest.PromptOneofCase.Text:
                    w.WriteString("prompt", request.Text);
                    break;
                case CompleteRequest.PromptOneofCase.TokenIds:
                    w.WriteStartArray("prompt");
                    foreach (int id in request.TokenIds.Ids)
                    {
                        w.WriteNumberValue(id);
                    }

                    w.WriteEndArray();
                    break;
            }

            if (request.Echo)
            {
                w.WriteBoolean("echo", true);
            }

            WriteSampling(w, request.Sampling, completions: true);
            WriteResponseFormat(w, request.ResponseFormat);
        });
        string promptField = request.PromptCase == CompleteRequest.PromptOneofCase.TokenIds ? "token_ids" : "text";
        await GenerateAsync(request, json, ApiKind.Completion, promptField, request.Sampling?.NoCache ?? false, responseStream, context).ConfigureAwait(false);
    }

    public async Task Chat(ChatRequest request, IServerStreamWriter<CompletionChunk> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        byte[] json = Json(w =>
        {
            w.WriteString("model", request.Model);
            WriteMessages(w, request.Messages);
            if (request.HasAddGenerationPrompt)
            {
                w.WriteBoolean("add_generation_prompt", request.AddGenerationPrompt);
            }

            WriteSampling(w, request.Sampling, completions: false);
            WriteTools(w, request);
            WriteResponseFormat(w, request.ResponseFormat);
        });
        await GenerateAsync(request, json, ApiKind.Chat, "messages", request.Sampling?.NoCache ?? false, responseStream, context).ConfigureAwait(false);
    }

    public async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        await Guard(() => _service.AuthenticateAsync(Bearer(context), context.CancellationToken).AsTask()).ConfigureAwait(false);
        var response = new ListModelsResponse();
        foreach (WorkerInfo info in _service.Pool.Models)
        {
            response.Models.Add(new Model { Id = info.Model, Created = info.Created, OwnedBy = "inference", MaxModelLen = info.MaxModelLength });
        }

        return response;
    }

    public async Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        return await Guard(async () =>
        {
            await _service.AuthenticateAsync(Bearer(context), context.CancellationToken).ConfigureAwait(false);
            UnknownProtoFields.Refuse(request);
            if (request.Model.Length == 0)
            {
                throw ApiException.Missing("model");
            }

            IReadOnlyList<Worker.Tokenization.ChatMessage>? messages = null;
            if (request.Messages.Count > 0)
            {
                messages = RequestParser.ParseChat(Json(w =>
                {
                    w.WriteString("model", request.Model);
                    WriteMessages(w, request.Messages);
                }), _service.Options.Limits).Messages;
            }

            (int[] ids, WorkerInfo info) = await _service.TokenizeAsync(
                request.Model, request.Text, !request.HasAddSpecialTokens || request.AddSpecialTokens, messages,
                !request.HasAddGenerationPrompt || request.AddGenerationPrompt, context.CancellationToken).ConfigureAwait(false);
            var response = new TokenizeResponse { Count = ids.Length, MaxModelLen = info.MaxModelLength };
            response.Ids.Add(ids);
            return response;
        }).ConfigureAwait(false);
    }

    private async Task GenerateAsync(
        IMessage message, byte[] json, ApiKind kind, string promptField, bool noCache, IServerStreamWriter<CompletionChunk> stream, ServerCallContext context)
    {
        CancellationToken cancelled = context.CancellationToken;
        Func<string, string> protoField = param => ProtoField(param, promptField);
        (PreparedRequest prepared, Quotas.Reservation? reservation) = await Guard(protoField, async () =>
        {
            CallerContext caller = await _service.AuthenticateAsync(Bearer(context), cancelled).ConfigureAwait(false);
            UnknownProtoFields.Refuse(message);
            InferenceRequest request = kind == ApiKind.Chat
                ? RequestParser.ParseChat(json, _service.Options.Limits)
                : RequestParser.ParseCompletion(json, _service.Options.Limits);
            PreparedRequest p = await _service.PrepareAsync(caller, request, cancelled).ConfigureAwait(false);
            Quotas.Reservation? r = await _service.AdmitAsync(p, null, cancelled).ConfigureAwait(false);
            return (p, r);
        }).ConfigureAwait(false);

        await using RequestExecution execution = _service.Execute(prepared, reservation, kind == ApiKind.Chat ? "grpc_chat" : "grpc_completions", !noCache);
        try
        {
            bool first = true;
            var started = new bool[prepared.PromptIds.Count * prepared.Request.N]; // per choice: echo goes in its first delta
            ToolCallStream?[] tools = kind == ApiKind.Chat ? [.. Enumerable.Range(0, started.Length).Select(i => ToolCallStream.For(prepared, i))] : new ToolCallStream?[started.Length];
            await foreach (RunEvent e in execution.EventsAsync(cancelled).ConfigureAwait(false))
            {
                if (first)
                {
                    first = false;
                    await context.WriteResponseHeadersAsync(new Metadata
                    {
                        { "x-request-id", prepared.Id },
                        { "x-cache", execution.CacheHit ? "hit" : "miss" },
                    }).ConfigureAwait(false);
                }

                if (e.Index < 0)
                {
                    if (e.Event.Error is not null)
                    {
                        throw new RpcException(new global::Grpc.Core.Status(StatusCode.Internal, e.Event.Error));
                    }

                    continue;
                }

                if (e.Event.Text.Length == 0 && e.Event.TokenId < 0 && e.Event.Finish == SchedulerFinish.None)
                {
                    continue;
                }

                string? echo = started[e.Index] ? null : prepared.EchoFor(e.Index);
                started[e.Index] = true;
                CompletionChunk chunk = Chunk(prepared, execution, e, echo);
                if (tools[e.Index] is { } calls)
                {
                    ToolStep step = calls.Push(e.Event.Text, e.Event.Finish != SchedulerFinish.None);
                    ChoiceDelta delta = chunk.Choices[0];
                    delta.Text = step.Content;
                    foreach (ToolCallFragment f in step.Fragments)
                    {
                        delta.ToolCalls.Add(new ToolCallDelta { Index = f.Index, Id = f.Id ?? string.Empty, Name = f.Name ?? string.Empty, Arguments = f.Arguments });
                    }

                    if (calls.HasCalls && e.Event.Finish == SchedulerFinish.Stop)
                    {
                        delta.FinishReason = global::Inference.Gateway.Grpc.FinishReason.ToolCalls;
                    }
                }

                await stream.WriteAsync(chunk, cancelled).ConfigureAwait(false);
            }

            RunOutcome o = execution.Outcome;
            var last = new CompletionChunk
            {
                Id = prepared.Id,
                Model = prepared.Model.Model,
                Created = prepared.Created,
                CacheHit = execution.CacheHit,
                Usage = new Usage
                {
                    PromptTokens = o.PromptTokens,
                    CompletionTokens = o.CompletionTokens,
                    TotalTokens = o.PromptTokens + o.CompletionTokens,
                    CachedTokens = o.CachedTokens,
                    QueueTimeSeconds = o.QueueTime.TotalSeconds,
                    TimeToFirstTokenSeconds = o.TimeToFirstToken?.TotalSeconds ?? 0,
                },
            };
            await stream.WriteAsync(last, cancelled).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            throw ToRpc(Renamed(ex, protoField)); // refused before the first event (no worker could take it)
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested)
        {
            execution.ClientGone();
            throw new RpcException(new global::Grpc.Core.Status(StatusCode.Cancelled, "the client cancelled the call"));
        }
        catch (InvalidOperationException) when (cancelled.IsCancellationRequested)
        {
            execution.ClientGone(); // writing to a call the client already ended
        }
    }

    private static CompletionChunk Chunk(PreparedRequest prepared, RequestExecution execution, RunEvent e, string? echo)
    {
        ServedEvent ev = e.Event;
        var delta = new ChoiceDelta
        {
            Index = e.Index,
            Text = echo is null ? ev.Text : echo + ev.Text,
            FinishReason = ev.Finish switch
            {
                SchedulerFinish.Stop => global::Inference.Gateway.Grpc.FinishReason.Stop,
                SchedulerFinish.Length => global::Inference.Gateway.Grpc.FinishReason.Length,
                _ => global::Inference.Gateway.Grpc.FinishReason.Unspecified,
            },
            StopString = ev.StopString ?? string.Empty,
        };
        if (ev.TokenId >= 0)
        {
            delta.TokenIds.Add(ev.TokenId);
        }

        if (ev.Sampled is { } s)
        {
            var lp = new TokenLogprob { TokenId = s.TokenId, Token = s.Text, Bytes = ByteString.CopyFrom(s.Bytes), Logprob = s.Logprob };
            if (ev.TopLogprobs is { } top)
            {
                foreach (ServedToken t in top)
                {
                    lp.TopLogprobs.Add(new TopLogprob { TokenId = t.TokenId, Token = t.Text, Bytes = ByteString.CopyFrom(t.Bytes), Logprob = t.Logprob });
                }
            }

            delta.Logprobs.Add(lp);
        }

        var chunk = new CompletionChunk { Id = prepared.Id, Model = prepared.Model.Model, Created = prepared.Created, CacheHit = execution.CacheHit };
        chunk.Choices.Add(delta);
        return chunk;
    }

    // Refusals name fields in the HTTP API's JSON terms; protoField (when given) turns them into the request's proto
    // field paths (google.rpc.BadRequest's convention), so a gRPC client is told the field it set.
    private async Task<T> Guard<T>(Func<string, string>? protoField, Func<Task<T>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            _service.Metrics.Rejected((int)ex.Status);
            throw ToRpc(Renamed(ex, protoField));
        }
        catch (WorkerException ex)
        {
            throw ToRpc(Renamed(ApiException.From(ex.Refusal), protoField));
        }
        catch (StackExchange.Redis.RedisException)
        {
            throw ToRpc(ApiException.Unavailable("A shared store (limits or cache) is unavailable; retry shortly.", TimeSpan.FromSeconds(2)));
        }
    }

    private Task<T> Guard<T>(Func<Task<T>> body) => Guard(null, body);

    private static ApiException Renamed(ApiException ex, Func<string, string>? protoField) =>
        protoField is null || ex.Param is null ? ex : ex.WithParam(protoField(ex.Param));

    private Task<int> Guard(Func<Task> body) => Guard(null, async () =>
    {
        await body().ConfigureAwait(false);
        return 0;
    });

    /// <summary>Maps an HTTP-shaped refusal to a gRPC status, with RetryInfo and the rate-limit headers as trailers.</summary>
    public static RpcException ToRpc(ApiException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        StatusCode code = ex.Status switch
        {
            HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnsupportedMediaType => StatusCode.InvalidArgument,
            HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
            HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
            HttpStatusCode.NotFound => StatusCode.NotFound,
            HttpStatusCode.TooManyRequests => StatusCode.ResourceExhausted,
            HttpStatusCode.ServiceUnavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        };
        string message = ex.Param is null ? ex.Message : $"{ex.Message} (param: {ex.Param})";
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        if (ex.Param is not null)
        {
            var bad = new BadRequest();
            bad.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = ex.Param, Description = ex.Message });
            status.Details.Add(Any.Pack(bad));
        }

        if (ex.RetryAfter is { } retry)
        {
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(retry) }));
        }

        RpcException rpc = status.ToRpcException();
        if (ex.Code is not null)
        {
            rpc.Trailers.Add("error-code", ex.Code);
        }

        if (ex.RetryAfter is { } after)
        {
            rpc.Trailers.Add("retry-after", Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (ex.Headers is not null)
        {
            foreach ((string name, string value) in ex.Headers)
            {
                rpc.Trailers.Add(name, value);
            }
        }

        return rpc;
    }

    /// <summary>
    /// The proto field path of a parameter named in the HTTP API's terms: sampling fields live in <c>sampling</c>
    /// (chat's top_logprobs is <c>sampling.logprobs</c>), the prompt is the oneof case the client set, vLLM's
    /// structured_outputs are response_format's cases, and a tool's or a call's function fields are its own.
    /// </summary>
    internal static string ProtoField(string param, string promptField) => param switch
    {
        "prompt" => promptField,
        "top_logprobs" => "sampling.logprobs",
        "structured_outputs.regex" => "response_format.regex",
        "structured_outputs.grammar" => "response_format.grammar",
        "structured_outputs.choice" => "response_format.choice.choices",
        "tool_choice.function.name" => "tool_choice.function",
        _ when (param.StartsWith("tools[", StringComparison.Ordinal) || param.Contains(".tool_calls[", StringComparison.Ordinal)) && param.Contains("].function.", StringComparison.Ordinal) =>
            param.Replace("].function.", "].", StringComparison.Ordinal),
        _ when SamplingOptions.Descriptor.FindFieldByName(param) is not null => "sampling." + param,
        _ => param, // model, echo, messages, messages[i].role, add_generation_prompt: the same name in the proto
    };

    private static string? Bearer(ServerCallContext context) => GatewayService.BearerToken(context.RequestHeaders.GetValue("authorization"));

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteMessages(Utf8JsonWriter w, IEnumerable<ChatMessage> messages)
    {
        w.WriteStartArray("messages");
        foreach (ChatMessage m in messages)
        {
            w.WriteStartObject();
            w.WriteString("role", m.Role);
            w.WriteString("content", m.Content);
            if (m.ToolCalls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (ToolCall call in m.ToolCalls)
                {
                    ToolCallStream.WriteCall(w, call.Id, call.Name, call.Arguments);
                }

                w.WriteEndArray();
            }

            if (m.ToolCallId.Length > 0)
            {
                w.WriteString("tool_call_id", m.ToolCallId);
            }

            if (m.Name.Length > 0)
            {
                w.WriteString("name", m.Name);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    // Tools and formats travel as the HTTP API's JSON, so one parser validates both APIs.
    private static void WriteTools(Utf8JsonWriter w, ChatRequest request)
    {
        if (request.Tools.Count > 0)
        {
            w.WriteStartArray("tools");
            foreach (Tool tool in request.Tools)
            {
                w.WriteStartObject();
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", tool.Name);
                if (tool.Description.Length > 0)
                {
                    w.WriteString("description", tool.Description);
                }

                if (tool.Parameters.Length > 0)
                {
                    WriteRawJson(w, "parameters", tool.Parameters);
                }

                if (tool.HasStrict)
                {
                    w.WriteBoolean("strict", tool.Strict);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        switch (request.ToolChoice?.ChoiceCase)
        {
            case ToolChoice.ChoiceOneofCase.Mode:
                w.WriteString("tool_choice", request.ToolChoice.Mode);
                break;
            case ToolChoice.ChoiceOneofCase.Function:
                w.WriteStartObject("tool_choice");
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", request.ToolChoice.Function);
                w.WriteEndObject();
                w.WriteEndObject();
                break;
        }

        if (request.HasParallelToolCalls)
        {
            w.WriteBoolean("parallel_tool_calls", request.ParallelToolCalls);
        }
    }

    private static void WriteResponseFormat(Utf8JsonWriter w, ResponseFormat? format)
    {
        switch (format?.FormatCase)
        {
            case ResponseFormat.FormatOneofCase.JsonObject:
                w.WriteStartObject("response_format");
                w.WriteString("type", "json_object");
                w.WriteEndObject();
                break;
            case ResponseFormat.FormatOneofCase.JsonSchema:
                w.WriteStartObject("response_format");
                w.WriteString("type", "json_schema");
                w.WriteStartObject("json_schema");
                w.WriteString("name", format.JsonSchema.Name);
                if (format.JsonSchema.Description.Length > 0)
                {
                    w.WriteString("description", format.JsonSchema.Description);
                }

                WriteRawJson(w, "schema", format.JsonSchema.Schema);
                if (format.JsonSchema.HasStrict)
                {
                    w.WriteBoolean("strict", format.JsonSchema.Strict);
                }

                w.WriteEndObject();
                w.WriteEndObject();
                break;
            case ResponseFormat.FormatOneofCase.Regex:
                w.WriteStartObject("structured_outputs");
                w.WriteString("regex", format.Regex);
                w.WriteEndObject();
                break;
            case ResponseFormat.FormatOneofCase.Grammar:
                w.WriteStartObject("structured_outputs");
                w.WriteString("grammar", format.Grammar);
                w.WriteEndObject();
                break;
            case ResponseFormat.FormatOneofCase.Choice:
                w.WriteStartObject("structured_outputs");
                w.WriteStartArray("choice");
                foreach (string choice in format.Choice.Choices)
                {
                    w.WriteStringValue(choice);
                }

                w.WriteEndArray();
                w.WriteEndObject();
                break;
        }
    }

    // Text that is not JSON travels as a string, which the parser refuses naming the field (it expects an object).
    private static void WriteRawJson(Utf8JsonWriter w, string name, string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            w.WriteString(name, json);
            return;
        }

        using (doc)
        {
            w.WritePropertyName(name);
            doc.RootElement.WriteTo(w);
        }
    }

    private static void WriteSampling(Utf8JsonWriter w, SamplingOptions? s, bool completions)
    {
        if (s is null)
        {
            return;
        }

        if (s.HasMaxTokens)
        {
            w.WriteNumber("max_tokens", s.MaxTokens);
        }

        if (s.HasTemperature)
        {
            w.WriteNumber("temperature", s.Temperature);
        }

        if (s.HasTopP)
        {
            w.WriteNumber("top_p", s.TopP);
        }

        if (s.HasTopK)
        {
            w.WriteNumber("top_k", s.TopK);
        }

        if (s.HasMinP)
        {
            w.WriteNumber("min_p", s.MinP);
        }

        if (s.HasPresencePenalty)
        {
            w.WriteNumber("presence_penalty", s.PresencePenalty);
        }

        if (s.HasFrequencyPenalty)
        {
            w.WriteNumber("frequency_penalty", s.FrequencyPenalty);
        }

        if (s.HasRepetitionPenalty)
        {
            w.WriteNumber("repetition_penalty", s.RepetitionPenalty);
        }

        if (s.LogitBias.Count > 0)
        {
            w.WriteStartObject("logit_bias");
            foreach ((int id, float bias) in s.LogitBias)
            {
                w.WriteNumber(id.ToString(System.Globalization.CultureInfo.InvariantCulture), bias);
            }

            w.WriteEndObject();
        }

        if (s.HasSeed)
        {
            w.WriteNumber("seed", s.Seed);
        }

        if (s.HasN)
        {
            w.WriteNumber("n", s.N);
        }

        if (s.Stop.Count > 0)
        {
            w.WriteStartArray("stop");
            foreach (string stop in s.Stop)
            {
                w.WriteStringValue(stop);
            }

            w.WriteEndArray();
        }

        if (s.StopTokenIds.Count > 0)
        {
            w.WriteStartArray("stop_token_ids");
            foreach (int id in s.StopTokenIds)
            {
                w.WriteNumberValue(id);
            }

            w.WriteEndArray();
        }

        if (s.IgnoreEos)
        {
            w.WriteBoolean("ignore_eos", true);
        }

        if (s.HasMinTokens)
        {
            w.WriteNumber("min_tokens", s.MinTokens);
        }

        if (s.Priority != 0)
        {
            w.WriteNumber("priority", s.Priority);
        }

        if (s.HasLogprobs)
        {
            if (completions)
            {
                w.WriteNumber("logprobs", s.Logprobs);
            }
            else
            {
                w.WriteBoolean("logprobs", true);
                w.WriteNumber("top_logprobs", s.Logprobs);
            }
        }

        if (s.User.Length > 0)
        {
            w.WriteString("user", s.User);
        }

        if (s.HasSkipSpecialTokens)
        {
            w.WriteBoolean("skip_special_tokens", s.SkipSpecialTokens);
        }
    }
}

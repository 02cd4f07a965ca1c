using Inference.Gateway.HealthChecks;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Inference.Gateway.Http;

/// <summary>The OpenAI-compatible HTTP API plus vLLM's /tokenize and /detokenize, health and metrics.</summary>
public static class OpenAIEndpoints
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static void Map(IEndpointRouteBuilder app, GatewayService service)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(service);
        app.MapPost("/v1/chat/completions", ctx => GenerateAsync(ctx, service, ApiKind.Chat));
        app.MapPost("/v1/completions", ctx => GenerateAsync(ctx, service, ApiKind.Completion));
        app.MapGet("/v1/models", ctx => GuardAsync(ctx, service, () => ModelsAsync(ctx, service)));
        app.MapGet("/v1/models/{id}", ctx => GuardAsync(ctx, service, () => ModelAsync(ctx, service)));
        app.MapPost("/tokenize", ctx => GuardAsync(ctx, service, () => TokenizeAsync(ctx, service)));
        app.MapPost("/detokenize", ctx => GuardAsync(ctx, service, () => DetokenizeAsync(ctx, service)));
        app.MapGatewayHealthChecks(); // /health and /ready
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await service.Metrics.ExportAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
        });
        app.MapFallback(ctx => HttpErrors.WriteAsync(ctx, new ApiException(
            HttpStatusCode.NotFound, "invalid_request_error", "unknown_url", null, $"Unknown request URL: {ctx.Request.Method} {ctx.Request.Path}.")));
    }

    private static string? Bearer(HttpRequest request) => GatewayService.BearerToken(request.Headers.Authorization);

    private static async Task GuardAsync(HttpContext ctx, GatewayService service, Func<Task> body)
    {
        try
        {
            await service.AuthenticateAsync(Bearer(ctx.Request), ctx.RequestAborted).ConfigureAwait(false);
            await body().ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            service.Metrics.Rejected((int)ex.Status);
            await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
        }
        catch (WorkerException ex)
        {
            await HttpErrors.WriteAsync(ctx, ApiException.From(ex.Refusal)).ConfigureAwait(false);
        }
    }

    private static async Task GenerateAsync(HttpContext ctx, GatewayService service, ApiKind kind)
    {
        CallerContext caller;
        ReadOnlyMemory<byte> body;
        try
        {
            caller = await service.AuthenticateAsync(Bearer(ctx.Request), ctx.RequestAborted).ConfigureAwait(false);
            body = await RequestBody.ReadJsonAsync(ctx.Request, service.Options.Limits.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            service.Metrics.Rejected((int)ex.Status);
            await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        await GenerateAsync(ctx, service, kind, caller, body).ConfigureAwait(false);
    }

    /// <summary>
    /// Serves a chat completion request body for an already authenticated caller, exactly as /v1/chat/completions
    /// does (validation, admission, streaming or not, metering). Hosted apps render their template into such a body.
    /// </summary>
    public static Task ChatAsync(HttpContext ctx, GatewayService service, CallerContext caller, ReadOnlyMemory<byte> body)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(caller);
        return GenerateAsync(ctx, service, ApiKind.Chat, caller, body);
    }

    /// <summary>
    /// Runs a non-streamed chat completion body for an authenticated caller through the same path (admission, routing,
    /// metering) and returns the first choice's text: for pages that answer a form without JavaScript. Refusals and
    /// worker errors are thrown as <see cref="ApiException"/>.
    /// </summary>
    public static async Task<string> CompleteChatTextAsync(GatewayService service, CallerContext caller, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(caller);
        InferenceRequest request = RequestParser.ParseChat(body, service.Options.Limits);
        PreparedRequest prepared = await service.PrepareAsync(caller, request, cancellationToken).ConfigureAwait(false);
        Quotas.Reservation? reservation = await service.AdmitAsync(prepared, null, cancellationToken).ConfigureAwait(false);
        await using RequestExecution execution = service.Execute(prepared, reservation, "chat", allowCache: true);
        var text = new System.Text.StringBuilder();
        try
        {
            await foreach (RunEvent e in execution.EventsAsync(cancellationToken).ConfigureAwait(false))
            {
                if (e.Index == 0)
                {
                    text.Append(e.Event.Text);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            execution.ClientGone();
            throw;
        }

        if (execution.Outcome.Error is { } error)
        {
            throw new ApiException(HttpStatusCode.InternalServerError, "server_error", "worker_error", null, error);
        }

        return text.ToString();
    }

    private static async Task GenerateAsync(HttpContext ctx, GatewayService service, ApiKind kind, CallerContext caller, ReadOnlyMemory<byte> body)
    {
        CancellationToken aborted = ctx.RequestAborted;
        PreparedRequest prepared;
        Quotas.Reservation? reservation;
        var rateHeaders = new List<KeyValuePair<string, string>>();
        try
        {
            InferenceRequest request = kind == ApiKind.Chat
                ? RequestParser.ParseChat(body, service.Options.Limits)
                : RequestParser.ParseCompletion(body, service.Options.Limits);
            prepared = await service.PrepareAsync(caller, request, aborted).ConfigureAwait(false);
            reservation = await service.AdmitAsync(prepared, rateHeaders, aborted).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            service.Metrics.Rejected((int)ex.Status);
            await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return; // the client left before admission: nothing was accepted
        }

        bool allowCache = !NoCache(ctx.Request);
        string api = kind == ApiKind.Chat ? "chat" : "completions";
        await using RequestExecution execution = service.Execute(prepared, reservation, api, allowCache);
        await using IAsyncEnumerator<RunEvent> events = execution.EventsAsync(aborted).GetAsyncEnumerator(aborted);
        bool more;
        try
        {
            more = await events.MoveNextAsync().ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            execution.ClientGone();
            return;
        }

        HttpResponse response = ctx.Response;
        response.Headers["x-request-id"] = prepared.Id;
        foreach ((string name, string value) in rateHeaders)
        {
            response.Headers[name] = value;
        }

        if (prepared.CacheKey is not null && allowCache)
        {
            response.Headers["x-cache"] = execution.CacheHit ? "hit" : "miss";
        }

        var render = new OpenAIResponse(prepared);
        try
        {
            if (prepared.Request.Stream)
            {
                await StreamAsync(ctx, events, more, render, execution, aborted).ConfigureAwait(false);
            }
            else
            {
                while (more)
                {
                    render.Accumulate(events.Current);
                    more = await events.MoveNextAsync().ConfigureAwait(false);
                }

                if (execution.Outcome.Error is { } error)
                {
                    await HttpErrors.WriteAsync(ctx, new ApiException(HttpStatusCode.InternalServerError, "server_error", "worker_error", null, error)).ConfigureAwait(false);
                    return;
                }

                response.ContentType = "application/json";
                using var w = new Utf8JsonWriter(response.BodyWriter);
                render.WriteComplete(w, execution.Outcome, prepared.Request.ReturnTimings ? execution.Timings() : null);
                await w.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            execution.ClientGone();
        }
        catch (IOException) when (aborted.IsCancellationRequested)
        {
            execution.ClientGone();
        }
    }

    private static async Task StreamAsync(
        HttpContext ctx, IAsyncEnumerator<RunEvent> events, bool more, OpenAIResponse render, RequestExecution execution, CancellationToken aborted)
    {
        HttpResponse response = ctx.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        PipeWriter body = response.BodyWriter;
        using var w = new Utf8JsonWriter(body);
        bool unflushed = false;
        while (more)
        {
            RunEvent e = events.Current;
            if (render.ShouldEmit(e))
            {
                BeginEvent(body, w);
                render.WriteChunk(w, e);
                EndEvent(body, w);
                unflushed = true;
            }

            // Flush only when the next event is not already here: a client never waits for bytes we hold,
            // and under load the events queued for a request leave in one write (one chunk, one syscall).
            ValueTask<bool> next = events.MoveNextAsync();
            if (unflushed && !next.IsCompleted)
            {
                FlushResult flushed = await body.FlushAsync(aborted).ConfigureAwait(false);
                unflushed = false;
                if (flushed.IsCanceled || flushed.IsCompleted)
                {
                    execution.ClientGone();
                    await ((Task)next.AsTask()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // no dispose under a pending MoveNext
                    return;
                }
            }

            more = await next.ConfigureAwait(false);
        }

        if (execution.Outcome.Error is null && execution.Prepared.Request.IncludeUsage)
        {
            BeginEvent(body, w);
            render.WriteUsageChunk(w, execution.Outcome, execution.Prepared.Request.ReturnTimings ? execution.Timings() : null);
            EndEvent(body, w);
        }

        body.Write(Done);
        await body.FlushAsync(aborted).ConfigureAwait(false);
    }

    // One SSE event: "data: " + the JSON the writer produces + "\n\n", straight into the response pipe (no
    // intermediate string; one Utf8JsonWriter reused for the whole stream).
    private static void BeginEvent(PipeWriter body, Utf8JsonWriter w)
    {
        body.Write(DataPrefix);
        w.Reset(body);
    }

    private static void EndEvent(PipeWriter body, Utf8JsonWriter w)
    {
        w.Flush();
        body.Write(EventEnd);
    }

    private static bool NoCache(HttpRequest request)
    {
        foreach (string? value in request.Headers.CacheControl)
        {
            if (value is not null && (value.Contains("no-cache", StringComparison.OrdinalIgnoreCase) || value.Contains("no-store", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task ModelsAsync(HttpContext ctx, GatewayService service)
    {
        ctx.Response.ContentType = "application/json";
        using var w = new Utf8JsonWriter(ctx.Response.BodyWriter);
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (WorkerInfo info in service.Pool.Models)
        {
            WriteModel(w, info);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        await w.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task ModelAsync(HttpContext ctx, GatewayService service)
    {
        WorkerInfo info = service.FindModel((string)ctx.Request.RouteValues["id"]!);
        ctx.Response.ContentType = "application/json";
        using var w = new Utf8JsonWriter(ctx.Response.BodyWriter);
        WriteModel(w, info);
        await w.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static void WriteModel(Utf8JsonWriter w, WorkerInfo info)
    {
        w.WriteStartObject();
        w.WriteString("id", info.Model);
        w.WriteString("object", "model");
        w.WriteNumber("created", info.Created);
        w.WriteString("owned_by", "inference");
        w.WriteNumber("max_model_len", info.MaxModelLength);
        w.WriteEndObject();
    }

    private static async Task TokenizeAsync(HttpContext ctx, GatewayService service)
    {
        ReadOnlyMemory<byte> body = await RequestBody.ReadJsonAsync(ctx.Request, service.Options.Limits.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false);
        TokenizeInput input = RequestParser.ParseTokenize(body);
        (int[] ids, WorkerInfo info) = await service.TokenizeAsync(
            input.Model, input.Text, input.AddSpecialTokens, input.Messages, input.AddGenerationPrompt, ctx.RequestAborted).ConfigureAwait(false);

        ctx.Response.ContentType = "application/json";
        using var w = new Utf8JsonWriter(ctx.Response.BodyWriter);
        w.WriteStartObject();
        w.WriteNumber("count", ids.Length);
        w.WriteNumber("max_model_len", info.MaxModelLength);
        w.WriteStartArray("tokens");
        foreach (int id in ids)
        {
            w.WriteNumberValue(id);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        await w.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task DetokenizeAsync(HttpContext ctx, GatewayService service)
    {
        ReadOnlyMemory<byte> body = await RequestBody.ReadJsonAsync(ctx.Request, service.Options.Limits.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false);
        using JsonDocument doc = RequestParser.Parse(body);
        JsonElement root = doc.RootElement;
        RequestParser.OnlyFields(root, "model", "tokens");
        string model = RequestParser.RequiredString(root, "model");
        WorkerInfo info = service.FindModel(model);
        if (!root.TryGetProperty("tokens", out JsonElement tokens) || tokens.ValueKind != JsonValueKind.Array)
        {
            throw tokens.ValueKind == JsonValueKind.Undefined ? ApiException.Missing("tokens") : ApiException.WrongType("tokens", "a list of token ids");
        }

        var ids = new List<int>();
        foreach (JsonElement t in tokens.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out int id) || id < 0 || id >= info.VocabSize)
            {
                throw ApiException.Invalid("tokens", $"tokens must be token ids in [0, {info.VocabSize}).", "invalid_token_id");
            }

            ids.Add(id);
        }

        string text = await service.WorkerFor(model).DetokenizeAsync(ids, ctx.RequestAborted).ConfigureAwait(false);
        ctx.Response.ContentType = "application/json";
        using var w = new Utf8JsonWriter(ctx.Response.BodyWriter);
        w.WriteStartObject();
        w.WriteString("prompt", text);
        w.WriteEndObject();
        await w.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static Task PlainAsync(HttpContext ctx, HttpStatusCode status, string text)
    {
        ctx.Response.StatusCode = (int)status;
        ctx.Response.ContentType = "text/plain";
        return ctx.Response.WriteAsync(text + "\n", ctx.RequestAborted);
    }
}

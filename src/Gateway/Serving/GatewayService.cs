using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Gateway.Caching;
using Inference.Gateway.Hosting;
using Inference.Gateway.Keys;
using Inference.Gateway.Metering;
using Inference.Gateway.Metrics;
using Inference.Gateway.Quotas;
using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Serving;

/// <summary>
/// The request path shared by HTTP and gRPC: authenticate -> validate and tokenize -> admit (limits,
/// budgets, token reservation) -> response cache -> route to a worker -> stream -> reconcile, meter once.
/// </summary>
public sealed partial class GatewayService
{
    private readonly GatewayOptions _options;
    private readonly IKeyStore _keys;
    private readonly ILimitsSource _limits;
    private readonly QuotaManager _quotas;
    private readonly IResponseCache? _cache;
    private readonly IUsageSink _usage;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private volatile bool _draining;

    public GatewayService(
        GatewayOptions options, WorkerPool pool, IKeyStore keys, ILimitsSource limits, QuotaManager quotas,
        IResponseCache? cache, IUsageSink usage, GatewayMetrics metrics, TimeProvider time, ILogger<GatewayService> logger)
    {
        _options = options;
        Pool = pool;
        _keys = keys;
        _limits = limits;
        _quotas = quotas;
        _cache = cache;
        _usage = usage;
        Metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public WorkerPool Pool { get; }

    public GatewayMetrics Metrics { get; }

    public GatewayOptions Options => _options;

    /// <summary>
    /// True when no keys are configured (loopback only): every caller is anonymous. Never with a key file (one that
    /// has, or is reloaded to, no keys refuses every caller) nor with <see cref="GatewayOptions.RequireKeys"/>.
    /// </summary>
    public bool IsOpen => _options.KeysFile is null && !_options.RequireKeys && _keys.Count == 0;

    public bool Draining => _draining;

    /// <summary>Ready: not draining and at least one worker ready and making progress.</summary>
    public bool IsReady => !_draining && Pool.IsReady;

    public void StartDraining() => _draining = true;

    /// <summary>Admitted requests not yet ended (what a drain waits for).</summary>
    public int InFlight => Metrics.InFlight;

    /// <summary>Resolves the bearer key; 401 when missing or unknown (unless the gateway is open), 403 for an app key.</summary>
    public ValueTask<CallerContext> AuthenticateAsync(string? bearer, CancellationToken cancellationToken) =>
        AuthenticateAsync(bearer, app: null, cancellationToken);

    /// <summary>
    /// Resolves the bearer key for a call on behalf of <paramref name="app"/> (null: the general API). A publishable
    /// app key (<see cref="ApiKey.App"/>) passes only for its own app; any other key passes everywhere.
    /// </summary>
    public async ValueTask<CallerContext> AuthenticateAsync(string? bearer, string? app, CancellationToken cancellationToken)
    {
        if (IsOpen)
        {
            return CallerContext.Anonymous;
        }

        if (string.IsNullOrEmpty(bearer))
        {
            throw ApiException.Unauthorized("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
        }

        ApiKey? key = await _keys.FindAsync(bearer, cancellationToken).ConfigureAwait(false);
        if (key is null || !key.IsUsableAt(_time.GetUtcNow()))
        {
            throw ApiException.Unauthorized($"Incorrect API key provided: {Redact(bearer)}.");
        }

        if (key.App is not null && !string.Equals(key.App, app, StringComparison.Ordinal))
        {
            throw new ApiException(HttpStatusCode.Forbidden, "permission_error", "app_key_scope", null,
                "This is an app key: it can only run its own app (POST /apps/{slug}/api/run), not this endpoint or another app.");
        }

        EffectiveLimits limits = await _limits.ResolveAsync(key, cancellationToken).ConfigureAwait(false);
        return new CallerContext
        {
            KeyId = key.KeyId,
            Tenant = key.Tenant,
            Class = limits.Priority,
            Key = key,
            Limits = limits,
        };
    }

    /// <summary>The key of an <c>authorization: Bearer KEY</c> value (HTTP header or gRPC metadata); empty for another scheme.</summary>
    public static string? BearerToken(string? authorization)
    {
        if (authorization is null)
        {
            return null;
        }

        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : string.Empty;
    }

    /// <summary>A ready worker serving <paramref name="model"/> (for tokenization), or 503.</summary>
    public IWorker WorkerFor(string model) =>
        Pool.PickForTokenize(model)
        ?? throw ApiException.Unavailable($"No ready worker serves model '{model}'.", TimeSpan.FromSeconds(2), "no_worker_available");

    /// <summary>
    /// /tokenize for both APIs: the chat template over <paramref name="messages"/> when given, else
    /// <paramref name="text"/>. 404 for an unknown model, 400 for what the worker refuses.
    /// </summary>
    public async Task<(int[] Ids, WorkerInfo Model)> TokenizeAsync(
        string model, string text, bool addSpecialTokens, IReadOnlyList<ChatMessage>? messages, bool addGenerationPrompt, CancellationToken cancellationToken)
    {
        WorkerInfo info = FindModel(model);
        IWorker worker = WorkerFor(model);
        try
        {
            int[] ids = messages is { Count: > 0 }
                ? await worker.ApplyChatTemplateAsync(messages, addGenerationPrompt, null, cancellationToken).ConfigureAwait(false)
                : await worker.TokenizeAsync(text, addSpecialTokens, cancellationToken).ConfigureAwait(false);
            return (ids, info);
        }
        catch (WorkerException ex)
        {
            throw ApiException.From(ex.Refusal);
        }
    }

    /// <summary>Shows a key the way OpenAI does: a few leading and trailing characters only.</summary>
    public static string Redact(string key) =>
        key.Length <= 8 ? "****" : string.Concat(key.AsSpan(0, 3), "****", key.AsSpan(key.Length - 4));

    /// <summary>The model facts for an id, or 404.</summary>
    public WorkerInfo FindModel(string model)
    {
        foreach (WorkerInfo info in Pool.Models)
        {
            if (info.Model == model)
            {
                return info;
            }
        }

        throw ApiException.ModelNotFound(model);
    }

    /// <summary>Validates against the model and tokenizes: every 400 a request can earn is raised here.</summary>
    public async Task<PreparedRequest> PrepareAsync(CallerContext caller, InferenceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        if (_draining)
        {
            throw ApiException.Unavailable("The server is shutting down.", TimeSpan.FromSeconds(5), "shutting_down");
        }

        WorkerInfo model = FindModel(request.Model);
        IWorker worker = WorkerFor(request.Model);
        if (request.Echo && request.Logprobs is not null)
        {
            throw ApiException.Invalid("echo", "echo together with logprobs (prompt logprobs) is not supported by this server.", "unsupported_parameter");
        }

        var ids = new List<int[]>();
        List<string>? texts = request.Echo ? [] : null;
        try
        {
            if (request.Kind == ApiKind.Chat)
            {
                ids.Add(await worker.ApplyChatTemplateAsync(request.Messages, request.AddGenerationPrompt, request.Tools, cancellationToken).ConfigureAwait(false));
            }
            else
            {
                for (int i = 0; i < request.Prompts.Count; i++)
                {
                    PromptInput p = request.Prompts[i];
                    if (p.Text is not null)
                    {
                        ids.Add(await worker.TokenizeAsync(p.Text, true, cancellationToken).ConfigureAwait(false));
                        texts?.Add(p.Text);
                    }
                    else
                    {
                        int[] prompt = [.. p.TokenIds!];
                        foreach (int id in prompt)
                        {
                            if (id >= model.VocabSize)
                            {
                                throw ApiException.Invalid(request.Prompts.Count == 1 ? "prompt" : $"prompt[{i}]", $"token id {id} is outside the vocabulary [0, {model.VocabSize}).", "invalid_token_id");
                            }
                        }

                        ids.Add(prompt);
                        texts?.Add(await worker.DetokenizeAsync(prompt, cancellationToken).ConfigureAwait(false));
                    }
                }
            }
        }
        catch (WorkerException ex)
        {
            throw ApiException.From(ex.Refusal);
        }

        CheckTokenIds(request.LogitBias?.Keys, "logit_bias", model.VocabSize);
        CheckTokenIds(request.StopTokenIds, "stop_token_ids", model.VocabSize);
        var maxTokens = new int[ids.Count];
        string where = request.Kind == ApiKind.Chat ? "messages" : "prompt";

        // The worker's own admission rule (context, and the cache less its watermark), so a request the
        // engine would refuse is refused here, before admission, with the engine's words.
        AdmissionRule rule = model.Admission;
        for (int i = 0; i < ids.Count; i++)
        {
            int prompt = ids[i].Length;
            if (prompt == 0)
            {
                throw ApiException.Invalid(where, "the prompt is empty after tokenization.");
            }

            if (request.MaxTokens is int max)
            {
                if (rule.Check(prompt, max, where, request.Kind == ApiKind.Chat ? "messages" : "max_tokens") is Refusal refusal)
                {
                    throw ApiException.From(refusal);
                }

                maxTokens[i] = max;
            }
            else
            {
                maxTokens[i] = rule.DefaultMaxTokens(prompt, where, out Refusal? noRoom) ?? throw ApiException.From(noRoom!);
            }

            if (request.MinTokens > maxTokens[i])
            {
                throw ApiException.Invalid("min_tokens", $"min_tokens ({request.MinTokens}) must be <= max_tokens ({maxTokens[i]}).");
            }
        }

        string prefix = request.Kind == ApiKind.Chat ? "chatcmpl-" : "cmpl-";
        var prepared = new PreparedRequest
        {
            Request = request,
            Caller = caller,
            Model = model,
            Id = prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
            Created = _time.GetUtcNow().ToUnixTimeSeconds(),
            PromptIds = ids,
            PromptTexts = texts,
            MaxTokens = maxTokens,
        };
        return request.IsDeterministic && _cache is not null ? prepared with { CacheKey = CacheKeyOf(prepared) } : prepared;
    }

    private static void CheckTokenIds(IEnumerable<int>? ids, string param, int vocab)
    {
        if (ids is null)
        {
            return;
        }

        foreach (int id in ids)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw ApiException.Invalid(param, $"{param} token id {id} is outside the vocabulary [0, {vocab}).", "invalid_token_id");
            }
        }
    }

    /// <summary>
    /// SHA-256 over the tenant, the model and every field that changes the output, in a fixed order.
    /// Delivery fields (stream, include_usage, user, priority) are left out: the same answer serves them all.
    /// </summary>
    public static string CacheKeyOf(PreparedRequest p)
    {
        ArgumentNullException.ThrowIfNull(p);
        InferenceRequest r = p.Request;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            w.WriteStringValue("v1");
            w.WriteStringValue(p.Caller.Tenant);
            w.WriteStringValue(p.Model.Model);
            w.WriteNumberValue((int)r.Kind);
            foreach (int[] prompt in p.PromptIds)
            {
                w.WriteStartArray();
                foreach (int id in prompt)
                {
                    w.WriteNumberValue(id);
                }

                w.WriteEndArray();
            }

            foreach (int m in p.MaxTokens)
            {
                w.WriteNumberValue(m);
            }

            w.WriteNumberValue(r.Temperature);
            w.WriteNumberValue(r.TopP);
            w.WriteNumberValue(r.TopK);
            w.WriteNumberValue(r.MinP);
            w.WriteNumberValue(r.PresencePenalty);
            w.WriteNumberValue(r.FrequencyPenalty);
            w.WriteNumberValue(r.RepetitionPenalty);
            w.WriteStartArray();
            if (r.LogitBias is not null)
            {
                foreach (KeyValuePair<int, float> kv in r.LogitBias.OrderBy(kv => kv.Key))
                {
                    w.WriteNumberValue(kv.Key);
                    w.WriteNumberValue(kv.Value);
                }
            }

            w.WriteEndArray();
            w.WriteStringValue(r.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-");
            w.WriteNumberValue(r.N);
            w.WriteStartArray();
            foreach (string s in r.Stop)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
            w.WriteStartArray();
            foreach (int id in r.StopTokenIds)
            {
                w.WriteNumberValue(id);
            }

            w.WriteEndArray();
            w.WriteStringValue(r.Grammar ?? "-");
            w.WriteBooleanValue(r.IgnoreEos);
            w.WriteNumberValue(r.MinTokens);
            w.WriteNumberValue(r.Logprobs ?? -1);
            w.WriteBooleanValue(r.Echo);
            w.WriteBooleanValue(r.SkipSpecialTokens);
            w.WriteEndArray();
        }

        return "resp:" + Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
    }

    /// <summary>
    /// Admission: limits, budgets and the token reservation (null for an open gateway). 429 with headers when
    /// refused; when admitted, <paramref name="headers"/> gets the x-ratelimit-* values for the response.
    /// </summary>
    public async Task<Reservation?> AdmitAsync(PreparedRequest prepared, List<KeyValuePair<string, string>>? headers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (prepared.Caller.Key is not ApiKey key || prepared.Caller.Limits is not EffectiveLimits limits)
        {
            return null; // open gateway: nothing to limit
        }

        AdmissionDecision decision = await _quotas.AdmitAsync(key, limits.Key, limits.Tenant, prepared.ReservedTokens, cancellationToken).ConfigureAwait(false);
        if (decision.Admitted)
        {
            headers?.AddRange(decision.Headers.ToHeaders());
            return decision.Reservation;
        }

        if (decision.Kind == QuotaRejection.StoreUnavailable)
        {
            throw ApiException.Unavailable(decision.Message, decision.RetryAfter ?? TimeSpan.FromSeconds(2), "limits_store_unavailable");
        }

        bool quota = decision.Kind == QuotaRejection.Quota;
        Metrics.RateLimited(decision.Kind.ToString().ToLowerInvariant());
        throw new ApiException(
            HttpStatusCode.TooManyRequests,
            quota ? "insufficient_quota" : "requests",
            quota ? "insufficient_quota" : "rate_limit_exceeded",
            null,
            decision.Message)
        {
            RetryAfter = decision.RetryAfter,
            Headers = decision.Headers.ToHeaders().ToDictionary(),
        };
    }

    /// <summary>Starts serving an admitted request (from the response cache or the workers).</summary>
    public RequestExecution Execute(PreparedRequest prepared, Reservation? reservation, string api, bool allowCache)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        return new RequestExecution(this, prepared, reservation, api, allowCache ? _cache : null, _usage, _time, _logger, _options.ResponseCacheTtl);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Request {RequestId} failed: {Error}")]
    internal static partial void LogRequestFailed(ILogger logger, string requestId, string error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Usage record for {RequestId} could not be written")]
    internal static partial void LogUsageWriteFailed(ILogger logger, Exception ex, string requestId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Response cache unavailable for {RequestId}")]
    internal static partial void LogCacheFailed(ILogger logger, Exception ex, string requestId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Reservation for {RequestId} could not be reconciled")]
    internal static partial void LogReconcileFailed(ILogger logger, Exception ex, string requestId);
}

namespace Inference.Gateway.Metering;

/// <summary>
/// Exactly one per finished request, written to an <see cref="IUsageSink"/>. The platform stores it idempotently by
/// <see cref="RequestId"/>. JSON fields (snake_case): request_id, key_id, tenant, model, prompt_tokens,
/// completion_tokens, cached_tokens, queue_time_ms, ttft_ms, duration_ms, status, finish_reason, api,
/// response_cache_hit, timestamp (ISO 8601 UTC, when the request finished), user (when the request named one).
/// </summary>
/// <param name="RequestId">Unique id of the request.</param>
/// <param name="KeyId">The key's <see cref="Keys.ApiKey.KeyId"/> (never the key); null when unauthenticated.</param>
/// <param name="Tenant">Tenant billed.</param>
/// <param name="Model">Model served.</param>
/// <param name="PromptTokens">Prompt tokens.</param>
/// <param name="CompletionTokens">Generated tokens.</param>
/// <param name="CachedTokens">Prompt tokens served from the prefix cache (or all tokens of a response-cache hit).</param>
/// <param name="QueueTime">Time waiting before the first prefill step; null when it never queued.</param>
/// <param name="TimeToFirstToken">Time to the first token; null when none came.</param>
/// <param name="Duration">Whole request, arrival to end.</param>
/// <param name="Status">How it ended.</param>
/// <param name="FinishReason">OpenAI finish reason ("stop", "length", ...), null when none.</param>
/// <param name="Api">Which API ("chat.completions", "completions", "grpc.chat", ...).</param>
/// <param name="ResponseCacheHit">Served from the response cache.</param>
/// <param name="Timestamp">When it finished.</param>
/// <param name="User">The caller's end user (OpenAI's safety_identifier or user), null when not given.</param>
public sealed record UsageRecord(
    string RequestId,
    string? KeyId,
    string Tenant,
    string Model,
    long PromptTokens,
    long CompletionTokens,
    long CachedTokens,
    TimeSpan? QueueTime,
    TimeSpan? TimeToFirstToken,
    TimeSpan Duration,
    UsageStatus Status,
    string? FinishReason,
    string Api,
    bool ResponseCacheHit,
    DateTimeOffset Timestamp,
    string? User = null)
{
    /// <summary>Prompt plus completion tokens.</summary>
    public long TotalTokens => PromptTokens + CompletionTokens;
}

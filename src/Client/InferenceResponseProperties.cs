namespace Inference.Client;

/// <summary>
/// Keys of <see cref="Microsoft.Extensions.AI.ChatResponseUpdate.AdditionalProperties"/> on the update that carries the
/// usage (the stream's last), and of <see cref="Microsoft.Extensions.AI.ChatResponse.AdditionalProperties"/> from
/// <see cref="InferenceChatClient.GetResponseAsync"/>: what the gateway reports beyond token counts.
/// </summary>
public static class InferenceResponseProperties
{
    /// <summary>Seconds the request waited before it was scheduled (double).</summary>
    public const string QueueTimeSeconds = "queue_time_seconds";

    /// <summary>Seconds from arrival to the first token (double).</summary>
    public const string TimeToFirstTokenSeconds = "time_to_first_token_seconds";

    /// <summary>True when the answer was replayed from the gateway's response cache (bool).</summary>
    public const string CacheHit = "cache_hit";
}

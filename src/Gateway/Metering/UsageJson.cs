using System.Buffers;
using System.Text.Json;

namespace Inference.Gateway.Metering;

/// <summary>The JSON form of a <see cref="UsageRecord"/> (snake_case, durations in milliseconds).</summary>
public static class UsageJson
{
    /// <summary>Writes <paramref name="record"/> as one JSON object without a trailing newline.</summary>
    public static void Write(Utf8JsonWriter writer, UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(record);
        writer.WriteStartObject();
        writer.WriteString("request_id", record.RequestId);
        writer.WriteString("key_id", record.KeyId);
        writer.WriteString("tenant", record.Tenant);
        writer.WriteString("model", record.Model);
        writer.WriteNumber("prompt_tokens", record.PromptTokens);
        writer.WriteNumber("completion_tokens", record.CompletionTokens);
        writer.WriteNumber("cached_tokens", record.CachedTokens);
        WriteMs(writer, "queue_time_ms", record.QueueTime);
        WriteMs(writer, "ttft_ms", record.TimeToFirstToken);
        WriteMs(writer, "duration_ms", record.Duration);
        writer.WriteString("status", StatusName(record.Status));
        writer.WriteString("finish_reason", record.FinishReason);
        writer.WriteString("api", record.Api);
        writer.WriteBoolean("response_cache_hit", record.ResponseCacheHit);
        writer.WriteString("timestamp", record.Timestamp.ToUniversalTime());
        if (record.User is not null)
        {
            writer.WriteString("user", record.User);
        }
        writer.WriteEndObject();
    }

    /// <summary>The record as one UTF-8 JSON line ending in '\n'.</summary>
    public static byte[] ToLine(UsageRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, record);
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>snake_case name of a status.</summary>
    public static string StatusName(UsageStatus status) => status switch
    {
        UsageStatus.Completed => "completed",
        UsageStatus.Cancelled => "cancelled",
        UsageStatus.Failed => "failed",
        UsageStatus.Rejected => "rejected",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    private static void WriteMs(Utf8JsonWriter writer, string name, TimeSpan? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, Math.Round(v.TotalMilliseconds, 3));
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}

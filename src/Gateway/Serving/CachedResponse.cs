using System.Text.Json;
using Inference.Scheduler;
using Inference.Worker.Serving;

namespace Inference.Gateway.Serving;

/// <summary>
/// The stored form of a finished deterministic response: its events (text, tokens, logprobs, finishes)
/// and usage, so a hit replays exactly what the workers produced, streamed or not.
/// </summary>
internal static class CachedResponse
{
    private const int Version = 1;

    public static byte[] Write(List<RunEvent> events, RunOutcome outcome)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteNumber("prompt", outcome.PromptTokens);
            w.WriteNumber("completion", outcome.CompletionTokens);
            w.WriteNumber("cached", outcome.CachedTokens);
            w.WriteStartArray("events");
            foreach (RunEvent run in events)
            {
                if (run.Index < 0)
                {
                    continue;
                }

                ServedEvent e = run.Event;
                w.WriteStartObject();
                w.WriteNumber("i", run.Index);
                w.WriteNumber("c", e.Choice);
                w.WriteString("t", e.Text);
                w.WriteNumber("id", e.TokenId);
                w.WriteNumber("f", (int)e.Finish);
                if (e.StopString is not null)
                {
                    w.WriteString("s", e.StopString);
                }

                if (e.Sampled is { } s)
                {
                    w.WritePropertyName("lp");
                    WriteToken(w, s);
                }

                if (e.TopLogprobs is { } top)
                {
                    w.WriteStartArray("top");
                    foreach (ServedToken t in top)
                    {
                        WriteToken(w, t);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a stored response; false (a miss) for anything unreadable or from another version.</summary>
    public static bool TryRead(byte[] data, RunOutcome outcome, out List<RunEvent> events)
    {
        events = [];
        try
        {
            using JsonDocument doc = JsonDocument.Parse(data);
            JsonElement root = doc.RootElement;
            if (root.GetProperty("v").GetInt32() != Version)
            {
                return false;
            }

            foreach (JsonElement e in root.GetProperty("events").EnumerateArray())
            {
                int index = e.GetProperty("i").GetInt32();
                var finish = (FinishReason)e.GetProperty("f").GetInt32();
                events.Add(new RunEvent(index, new ServedEvent
                {
                    Choice = e.GetProperty("c").GetInt32(),
                    Text = e.GetProperty("t").GetString()!,
                    TokenId = e.GetProperty("id").GetInt32(),
                    Finish = finish,
                    StopString = e.TryGetProperty("s", out JsonElement s) ? s.GetString() : null,
                    Sampled = e.TryGetProperty("lp", out JsonElement lp) ? ReadToken(lp) : null,
                    TopLogprobs = e.TryGetProperty("top", out JsonElement top) ? top.EnumerateArray().Select(ReadToken).ToArray() : null,
                }));
                if (finish != FinishReason.None)
                {
                    outcome.SetFinish(index, finish);
                }
            }

            outcome.PromptTokens = root.GetProperty("prompt").GetInt32();
            outcome.CompletionTokens = root.GetProperty("completion").GetInt32();
            outcome.CachedTokens = root.GetProperty("cached").GetInt32();
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            events = [];
            return false;
        }
    }

    private static void WriteToken(Utf8JsonWriter w, ServedToken t)
    {
        w.WriteStartObject();
        w.WriteNumber("id", t.TokenId);
        w.WriteString("t", t.Text);
        w.WriteBase64String("b", t.Bytes);
        w.WriteNumber("l", float.IsFinite(t.Logprob) ? t.Logprob : -9999f);
        w.WriteEndObject();
    }

    private static ServedToken ReadToken(JsonElement e) =>
        new(e.GetProperty("id").GetInt32(), e.GetProperty("t").GetString()!, e.GetProperty("b").GetBytesFromBase64(), e.GetProperty("l").GetSingle());
}

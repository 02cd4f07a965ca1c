using System.Text;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Scheduler;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Http;

/// <summary>
/// Renders one request's events in OpenAI's shapes: chat.completion / text_completion objects, their
/// streaming chunks (same id in every chunk, role in a choice's first delta, finish_reason on its last),
/// the include_usage chunk ("choices": []) and error events. One instance per response; not thread-safe.
/// </summary>
public sealed class OpenAIResponse
{
    private readonly PreparedRequest _prepared;
    private readonly ChoiceState[] _choices;
    private readonly bool _chat;

    public OpenAIResponse(PreparedRequest prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        _prepared = prepared;
        _chat = prepared.Request.Kind == ApiKind.Chat;
        int n = prepared.Request.N;
        _choices = new ChoiceState[prepared.PromptIds.Count * n];
        for (int i = 0; i < _choices.Length; i++)
        {
            _choices[i] = new ChoiceState { Echo = prepared.EchoFor(i), Tools = _chat ? ToolCallStream.For(prepared, i) : null };
        }
    }

    private bool WantLogprobs => _prepared.Request.Logprobs is not null;

    /// <summary>False for events that would make an empty chunk (held-back text with no logprobs).</summary>
    public bool ShouldEmit(RunEvent e)
    {
        if (e.Index < 0)
        {
            return e.Event.Error is not null;
        }

        ChoiceState c = _choices[e.Index];
        if (c.Tools is not null)
        {
            c.Step = c.Tools.Push(e.Event.Text, e.Event.Finish != FinishReason.None);
            return c.Step.Content.Length > 0 || c.Step.Fragments.Count > 0 || IsClientFinish(e.Event.Finish) || (WantLogprobs && e.Event.Sampled is not null) || !c.Started;
        }

        return e.Event.Text.Length > 0 || IsClientFinish(e.Event.Finish) || (WantLogprobs && e.Event.Sampled is not null) || !c.Started;
    }

    /// <summary>Writes one streaming chunk for an event (after <see cref="ShouldEmit"/> said yes).</summary>
    public void WriteChunk(Utf8JsonWriter w, RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (e.Index < 0)
        {
            WriteError(w, "server_error", "worker_error", e.Event.Error ?? "the request failed");
            return;
        }

        ChoiceState c = _choices[e.Index];
        ServedEvent ev = e.Event;
        w.WriteStartObject();
        WriteHeader(w, _chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", e.Index);
        string text = c.Tools is null ? ev.Text : c.Step.Content;
        if (!c.Started && c.Echo is not null)
        {
            text = c.Echo + text;
        }

        if (_chat)
        {
            w.WriteStartObject("delta");
            if (!c.Started)
            {
                w.WriteString("role", "assistant");
            }

            IReadOnlyList<ToolCallFragment> fragments = c.Tools is null ? [] : c.Step.Fragments;
            if (text.Length > 0)
            {
                w.WriteString("content", text);
            }
            else if (!c.Started)
            {
                if (fragments.Count > 0)
                {
                    w.WriteNull("content");
                }
                else
                {
                    w.WriteString("content", text);
                }
            }

            if (fragments.Count > 0)
            {
                WriteToolCallDeltas(w, fragments);
            }

            w.WriteEndObject();
            if (WantLogprobs && ev.Sampled is { } s)
            {
                w.WriteStartObject("logprobs");
                w.WriteStartArray("content");
                WriteChatLogprob(w, s, ev.TopLogprobs);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("logprobs");
            }
        }
        else
        {
            w.WriteString("text", text);
            if (WantLogprobs && ev.Sampled is { } s)
            {
                w.WriteStartObject("logprobs");
                WriteLegacyLogprobs(w, [(s, ev.TopLogprobs, c.TextLength + (c.Started || c.Echo is null ? 0 : c.Echo.Length))]);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("logprobs");
            }
        }

        WriteFinish(w, ev.Finish, c.Tools?.HasCalls == true);
        w.WriteEndObject();
        w.WriteEndArray();
        if (_prepared.Request.IncludeUsage)
        {
            w.WriteNull("usage");
        }

        w.WriteEndObject();
        c.Started = true;
        c.TextLength += text.Length;
    }

    /// <summary>The include_usage chunk: "choices": [] and the usage.</summary>
    public void WriteUsageChunk(Utf8JsonWriter w, RunOutcome outcome, RequestTimings? timings = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(outcome);
        w.WriteStartObject();
        WriteHeader(w, _chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, outcome);
        WriteTimings(w, timings);
        w.WriteEndObject();
    }

    /// <summary>Collects an event for the non-streaming response.</summary>
    public void Accumulate(RunEvent e)
    {
        if (e.Index < 0)
        {
            return;
        }

        ChoiceState c = _choices[e.Index];
        c.Text.Append(c.Tools is null ? e.Event.Text : c.Tools.Push(e.Event.Text, e.Event.Finish != FinishReason.None).Content);
        if (e.Event.Finish != FinishReason.None)
        {
            c.Finish = e.Event.Finish;
        }

        if (WantLogprobs && e.Event.Sampled is { } s)
        {
            c.Logprobs.Add((s, e.Event.TopLogprobs, (c.Echo?.Length ?? 0) + c.TextLength));
        }

        c.TextLength = c.Text.Length;
    }

    /// <summary>The whole chat.completion / text_completion object.</summary>
    public void WriteComplete(Utf8JsonWriter w, RunOutcome outcome, RequestTimings? timings = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(outcome);
        w.WriteStartObject();
        WriteHeader(w, _chat ? "chat.completion" : "text_completion");
        w.WriteStartArray("choices");
        for (int i = 0; i < _choices.Length; i++)
        {
            ChoiceState c = _choices[i];
            w.WriteStartObject();
            w.WriteNumber("index", i);
            if (_chat)
            {
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                if (c.Tools is { HasCalls: true } tools)
                {
                    if (tools.Content is { } content)
                    {
                        w.WriteString("content", content);
                    }
                    else
                    {
                        w.WriteNull("content");
                    }

                    w.WriteNull("refusal");
                    w.WriteStartArray("tool_calls");
                    foreach (ChatToolCall call in tools.Calls)
                    {
                        ToolCallStream.WriteCall(w, call.Id, call.Name, call.Arguments);
                    }

                    w.WriteEndArray();
                }
                else
                {
                    w.WriteString("content", c.Text.ToString());
                    w.WriteNull("refusal");
                }

                w.WriteEndObject();
                if (WantLogprobs)
                {
                    w.WriteStartObject("logprobs");
                    w.WriteStartArray("content");
                    foreach ((ServedToken token, IReadOnlyList<ServedToken>? top, _) in c.Logprobs)
                    {
                        WriteChatLogprob(w, token, top);
                    }

                    w.WriteEndArray();
                    w.WriteNull("refusal");
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("logprobs");
                }
            }
            else
            {
                w.WriteString("text", (c.Echo ?? string.Empty) + c.Text.ToString());
                if (WantLogprobs)
                {
                    w.WriteStartObject("logprobs");
                    WriteLegacyLogprobs(w, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(c.Logprobs));
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("logprobs");
                }
            }

            WriteFinish(w, c.Finish, c.Tools?.HasCalls == true);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteUsage(w, outcome);
        WriteTimings(w, timings);
        w.WriteEndObject();
    }

    /// <summary>An OpenAI error object (the body of an error response, or a data event mid-stream).</summary>
    public static void WriteError(Utf8JsonWriter w, string type, string? code, string message, string? param = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        if (param is null)
        {
            w.WriteNull("param");
        }
        else
        {
            w.WriteString("param", param);
        }

        if (code is null)
        {
            w.WriteNull("code");
        }
        else
        {
            w.WriteString("code", code);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string? FinishReasonString(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => null,
    };

    private static bool IsClientFinish(FinishReason reason) => reason is FinishReason.Stop or FinishReason.Length;

    private void WriteHeader(Utf8JsonWriter w, string objectName)
    {
        w.WriteString("id", _prepared.Id);
        w.WriteString("object", objectName);
        w.WriteNumber("created", _prepared.Created);
        w.WriteString("model", _prepared.Model.Model);
        if (_chat)
        {
            w.WriteNull("system_fingerprint");
        }
    }

    private static void WriteFinish(Utf8JsonWriter w, FinishReason reason, bool calls)
    {
        if (calls && reason == FinishReason.Stop)
        {
            w.WriteString("finish_reason", "tool_calls");
        }
        else if (FinishReasonString(reason) is { } s)
        {
            w.WriteString("finish_reason", s);
        }
        else
        {
            w.WriteNull("finish_reason");
        }
    }

    // OpenAI's streamed call shape: the first piece of a call has index, id, type and function.name (arguments
    // ""), later pieces index and function.arguments. Consecutive pieces of one call share an entry.
    private static void WriteToolCallDeltas(Utf8JsonWriter w, IReadOnlyList<ToolCallFragment> fragments)
    {
        w.WriteStartArray("tool_calls");
        int i = 0;
        while (i < fragments.Count)
        {
            ToolCallFragment first = fragments[i];
            var arguments = new StringBuilder(first.Arguments);
            int j = i + 1;
            while (j < fragments.Count && fragments[j].Index == first.Index && fragments[j].Id is null)
            {
                arguments.Append(fragments[j++].Arguments);
            }

            w.WriteStartObject();
            w.WriteNumber("index", first.Index);
            if (first.Id is not null)
            {
                w.WriteString("id", first.Id);
                w.WriteString("type", "function");
            }

            w.WriteStartObject("function");
            if (first.Name is not null)
            {
                w.WriteString("name", first.Name);
            }

            w.WriteString("arguments", arguments.ToString());
            w.WriteEndObject();
            w.WriteEndObject();
            i = j;
        }

        w.WriteEndArray();
    }

    // return_timings: seconds, as the Prometheus histograms and gRPC's Usage report them.
    private static void WriteTimings(Utf8JsonWriter w, RequestTimings? t)
    {
        if (t is null)
        {
            return;
        }

        w.WriteStartObject("timings");
        w.WriteNumber("queue_time_seconds", t.QueueTime.TotalSeconds);
        WriteSeconds(w, "time_to_first_token_seconds", t.TimeToFirstToken);
        WriteSeconds(w, "mean_inter_token_latency_seconds", t.MeanInterTokenLatency);
        w.WriteNumber("e2e_latency_seconds", t.Latency.TotalSeconds);
        w.WriteBoolean("cache_hit", t.CacheHit);
        w.WriteEndObject();
    }

    private static void WriteSeconds(Utf8JsonWriter w, string name, TimeSpan? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v.TotalSeconds);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteUsage(Utf8JsonWriter w, RunOutcome outcome)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", outcome.PromptTokens);
        w.WriteNumber("completion_tokens", outcome.CompletionTokens);
        w.WriteNumber("total_tokens", outcome.PromptTokens + outcome.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", outcome.CachedTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteChatLogprob(Utf8JsonWriter w, ServedToken token, IReadOnlyList<ServedToken>? top)
    {
        WriteTokenObject(w, token);
        w.WriteStartArray("top_logprobs");
        if (top is not null)
        {
            foreach (ServedToken t in top)
            {
                WriteTokenObject(w, t);
                w.WriteEndObject();
            }
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    // Opens the object and writes token/logprob/bytes; the caller closes it.
    private static void WriteTokenObject(Utf8JsonWriter w, ServedToken t)
    {
        w.WriteStartObject();
        w.WriteString("token", t.Text);
        w.WriteNumber("logprob", Finite(t.Logprob));
        w.WriteStartArray("bytes");
        foreach (byte b in t.Bytes)
        {
            w.WriteNumberValue(b);
        }

        w.WriteEndArray();
    }

    private static void WriteLegacyLogprobs(Utf8JsonWriter w, ReadOnlySpan<(ServedToken Token, IReadOnlyList<ServedToken>? Top, int Offset)> entries)
    {
        w.WriteStartArray("tokens");
        foreach (var e in entries)
        {
            w.WriteStringValue(e.Token.Text);
        }

        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var e in entries)
        {
            w.WriteNumberValue(Finite(e.Token.Logprob));
        }

        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var e in entries)
        {
            w.WriteStartObject();
            if (e.Top is { } top)
            {
                for (int i = 0; i < top.Count; i++)
                {
                    // A JSON object keeps one entry per token string (two ids can decode alike); the first,
                    // most likely, wins. At most 20 alternatives: a scan beats allocating a set per token.
                    if (!SeenBefore(top, i))
                    {
                        w.WriteNumber(top[i].Text, Finite(top[i].Logprob));
                    }
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (var e in entries)
        {
            w.WriteNumberValue(e.Offset);
        }

        w.WriteEndArray();
    }

    private static bool SeenBefore(IReadOnlyList<ServedToken> top, int i)
    {
        for (int j = 0; j < i; j++)
        {
            if (string.Equals(top[j].Text, top[i].Text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    // JSON has no -Infinity; OpenAI reports impossible tokens as -9999.
    private static float Finite(float logprob) => float.IsFinite(logprob) ? logprob : -9999f;

    private sealed class ChoiceState
    {
        public StringBuilder Text { get; } = new();

        public List<(ServedToken Token, IReadOnlyList<ServedToken>? Top, int Offset)> Logprobs { get; } = [];

        public string? Echo { get; set; }

        public bool Started { get; set; }

        public int TextLength { get; set; }

        public FinishReason Finish { get; set; }

        public ToolCallStream? Tools { get; init; }

        public ToolStep Step { get; set; }
    }
}

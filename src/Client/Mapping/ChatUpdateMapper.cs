using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Mapping;

/// <summary>
/// Turns one call's <c>CompletionChunk</c>s into <see cref="ChatResponseUpdate"/>s, in order: text as
/// <see cref="TextContent"/>, the finish reason on the choice's last delta, the usage (the stream's last message) as
/// <see cref="UsageContent"/>. Tool-call fragments (<c>ToolCallDelta</c>) are joined by index and emitted as
/// <see cref="FunctionCallContent"/>s once the call is complete: with the finish reason, or at the end of a stream
/// that lacked one. One instance per call; not thread-safe.
/// </summary>
internal sealed class ChatUpdateMapper
{
    // By the delta's index; OpenAI's streams start a call with its id and name and append arguments after.
    private readonly SortedDictionary<int, ToolCallBuilder> _calls = [];
    private Proto.CompletionChunk? _last;

    /// <summary>The update for this chunk, or null when it carries nothing a caller sees (a fragment of a tool call).</summary>
    public ChatResponseUpdate? Add(Proto.CompletionChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        _last = chunk;
        List<AIContent>? contents = null;
        ChatFinishReason? finish = null;
        // The request asked for one choice (n = 1): every delta belongs to it.
        foreach (Proto.ChoiceDelta delta in chunk.Choices)
        {
            if (delta.Text.Length > 0)
            {
                (contents ??= []).Add(new TextContent(delta.Text));
            }

            foreach (Proto.ToolCallDelta fragment in delta.ToolCalls)
            {
                if (!_calls.TryGetValue(fragment.Index, out ToolCallBuilder? call))
                {
                    _calls[fragment.Index] = call = new ToolCallBuilder();
                }

                call.Append(fragment);
            }

            if (delta.FinishReason != Proto.FinishReason.Unspecified)
            {
                finish = MapFinish(delta.FinishReason);
                FlushCalls(ref contents);
            }
        }

        AdditionalPropertiesDictionary? properties = null;
        if (chunk.Usage is { } usage)
        {
            (contents ??= []).Add(new UsageContent(new UsageDetails
            {
                InputTokenCount = usage.PromptTokens,
                OutputTokenCount = usage.CompletionTokens,
                TotalTokenCount = usage.TotalTokens,
                CachedInputTokenCount = usage.CachedTokens,
            }));
            properties = new AdditionalPropertiesDictionary
            {
                [InferenceResponseProperties.QueueTimeSeconds] = usage.QueueTimeSeconds,
                [InferenceResponseProperties.TimeToFirstTokenSeconds] = usage.TimeToFirstTokenSeconds,
                [InferenceResponseProperties.CacheHit] = chunk.CacheHit,
            };
        }

        return contents is null && finish is null ? null : Update(chunk, contents ?? [], finish, properties);
    }

    /// <summary>At the end of the stream: tool calls still open (no finish reason came), or null.</summary>
    public ChatResponseUpdate? Complete()
    {
        List<AIContent>? contents = null;
        FlushCalls(ref contents);
        return contents is null ? null : Update(_last!, contents, ChatFinishReason.ToolCalls, null);
    }

    internal static ChatFinishReason? MapFinish(Proto.FinishReason reason) => reason switch
    {
        Proto.FinishReason.Stop => ChatFinishReason.Stop,
        Proto.FinishReason.Length => ChatFinishReason.Length,
        Proto.FinishReason.ToolCalls => ChatFinishReason.ToolCalls,
        Proto.FinishReason.Unspecified => null,
        // A newer server's reason: pass its proto name on rather than guess.
        _ => new ChatFinishReason(reason.ToString().ToLowerInvariant()),
    };

    private void FlushCalls(ref List<AIContent>? contents)
    {
        if (_calls.Count == 0)
        {
            return;
        }

        contents ??= [];
        foreach (ToolCallBuilder call in _calls.Values)
        {
            contents.Add(call.Build());
        }

        _calls.Clear();
    }

    private static ChatResponseUpdate Update(Proto.CompletionChunk chunk, List<AIContent> contents, ChatFinishReason? finish, AdditionalPropertiesDictionary? properties) => new(ChatRole.Assistant, contents)
    {
        ResponseId = chunk.Id,
        MessageId = chunk.Id,
        ModelId = chunk.Model.Length > 0 ? chunk.Model : null,
        CreatedAt = chunk.Created > 0 ? DateTimeOffset.FromUnixTimeSeconds(chunk.Created) : null,
        FinishReason = finish,
        AdditionalProperties = properties,
        RawRepresentation = chunk,
    };

    private sealed class ToolCallBuilder
    {
        private readonly StringBuilder _arguments = new();
        private string _id = string.Empty;
        private string _name = string.Empty;

        public void Append(Proto.ToolCallDelta fragment)
        {
            // Later fragments may repeat the id and name or leave them empty; the first non-empty value stands.
            if (_id.Length == 0)
            {
                _id = fragment.Id;
            }

            if (_name.Length == 0)
            {
                _name = fragment.Name;
            }

            _arguments.Append(fragment.Arguments);
        }

        public FunctionCallContent Build()
        {
            string json = _arguments.ToString();
            // A malformed argument string is not thrown here: FunctionCallContent.Exception carries the parse error and
            // FunctionInvokingChatClient reports it to the model, as for any provider.
            return FunctionCallContent.CreateFromParsedArguments(
                json.Length == 0 ? "{}" : json, _id, _name, static text => (IDictionary<string, object?>?)JsonSerializer.Deserialize(
                    text, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(Dictionary<string, object?>))));
        }
    }
}

using System.Text.Json;
using Inference.Client.Mapping;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Tests.Mapping;

/// <summary>Sequences of CompletionChunks (as the gateway streams them) as ChatResponseUpdates (no server).</summary>
public sealed class ChatUpdateMapperTests
{
    private const string Id = "chatcmpl-abc";
    private const long Created = 1_767_225_600; // 2026-01-01T00:00:00Z

    private static Proto.CompletionChunk Chunk(string text = "", Proto.FinishReason finish = Proto.FinishReason.Unspecified, params Proto.ToolCallDelta[] calls)
    {
        var delta = new Proto.ChoiceDelta { Index = 0, Text = text, FinishReason = finish };
        delta.ToolCalls.Add(calls);
        var chunk = new Proto.CompletionChunk { Id = Id, Model = "m", Created = Created };
        chunk.Choices.Add(delta);
        return chunk;
    }

    private static Proto.CompletionChunk UsageChunk() => new()
    {
        Id = Id,
        Model = "m",
        Created = Created,
        Usage = new Proto.Usage { PromptTokens = 11, CompletionTokens = 5, TotalTokens = 16, CachedTokens = 8, QueueTimeSeconds = 0.25, TimeToFirstTokenSeconds = 0.5 },
    };

    private static Proto.ToolCallDelta Fragment(int index, string arguments, string id = "", string name = "") =>
        new() { Index = index, Id = id, Name = name, Arguments = arguments };

    private static List<ChatResponseUpdate> Run(params Proto.CompletionChunk[] chunks)
    {
        var mapper = new ChatUpdateMapper();
        var updates = chunks.Select(mapper.Add).OfType<ChatResponseUpdate>().ToList();
        if (mapper.Complete() is { } rest)
        {
            updates.Add(rest);
        }

        return updates;
    }

    [Fact]
    public void Add_TextThenFinishThenUsage_UpdatesAssembleIntoOneResponse()
    {
        List<ChatResponseUpdate> updates = Run(Chunk("The"), Chunk(" sea"), Chunk(" is wide.", Proto.FinishReason.Stop), UsageChunk());

        Assert.Equal(4, updates.Count);
        Assert.Equal(["The", " sea", " is wide.", ""], updates.Select(u => u.Text));
        Assert.All(updates, u => Assert.Equal((Id, Id, "m", ChatRole.Assistant), (u.ResponseId, u.MessageId, u.ModelId, u.Role!.Value)));
        Assert.All(updates, u => Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Created), u.CreatedAt));
        Assert.Equal([null, null, ChatFinishReason.Stop, null], updates.Select(u => u.FinishReason));

        ChatResponse response = updates.ToChatResponse();

        Assert.Equal("The sea is wide.", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal((Id, "m"), (response.ResponseId, response.ModelId));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Created), response.CreatedAt);
        UsageDetails usage = response.Usage!;
        Assert.Equal((11L, 5L, 16L, 8L), (usage.InputTokenCount, usage.OutputTokenCount, usage.TotalTokenCount, usage.CachedInputTokenCount));
        Assert.Equal(0.5, updates[^1].AdditionalProperties![InferenceResponseProperties.TimeToFirstTokenSeconds]);
        Assert.Equal(false, updates[^1].AdditionalProperties![InferenceResponseProperties.CacheHit]);
        Assert.Single(response.Messages);
    }

    [Fact]
    public void Add_ToolCallFragments_JoinedByIndex_EmittedWithFinishToolCalls()
    {
        Proto.CompletionChunk[] chunks =
        [
            Chunk(calls: Fragment(0, "", "call_a", "get_weather")),
            Chunk(calls: [Fragment(0, "{\"city\":"), Fragment(1, "{\"q\"", "call_b", "search")]),
            Chunk(calls: Fragment(1, ":\"tides\"}")),
            Chunk(calls: Fragment(0, "\"Seoul\",\"days\":2}")),
            Chunk(finish: Proto.FinishReason.ToolCalls),
            UsageChunk(),
        ];
        var mapper = new ChatUpdateMapper();

        List<ChatResponseUpdate?> updates = chunks.Select(mapper.Add).ToList();

        Assert.All(updates.Take(4), Assert.Null); // fragments alone show nothing until the calls are complete
        ChatResponseUpdate finished = updates[4]!;
        Assert.Equal(ChatFinishReason.ToolCalls, finished.FinishReason);
        FunctionCallContent[] calls = finished.Contents.OfType<FunctionCallContent>().ToArray();
        Assert.Equal([("call_a", "get_weather"), ("call_b", "search")], calls.Select(c => (c.CallId, c.Name)));
        Assert.Equal("Seoul", ((JsonElement)calls[0].Arguments!["city"]!).GetString());
        Assert.Equal(2, ((JsonElement)calls[0].Arguments!["days"]!).GetInt32());
        Assert.Equal("tides", ((JsonElement)calls[1].Arguments!["q"]!).GetString());
        Assert.All(calls, c => Assert.Null(c.Exception));
        Assert.Null(mapper.Complete());

        ChatResponse response = updates.OfType<ChatResponseUpdate>().ToChatResponse();
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal(["call_a", "call_b"], response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(c => c.CallId));
    }

    [Fact]
    public void Add_TextThenToolCall_TextStreamsFirst_CallFollowsInSameMessage()
    {
        List<ChatResponseUpdate> updates = Run(
            Chunk("Checking."),
            Chunk(calls: Fragment(0, "{}", "call_1", "now")),
            Chunk(finish: Proto.FinishReason.ToolCalls));

        ChatResponse response = updates.ToChatResponse();

        ChatMessage message = Assert.Single(response.Messages);
        Assert.Equal("Checking.", message.Text);
        FunctionCallContent call = Assert.Single(message.Contents.OfType<FunctionCallContent>());
        Assert.Equal(("call_1", "now"), (call.CallId, call.Name));
        Assert.Empty(call.Arguments!);
    }

    [Fact]
    public void Add_MalformedArguments_CallCarriesTheParseError()
    {
        List<ChatResponseUpdate> updates = Run(Chunk(calls: Fragment(0, "{\"city\": Seo", "call_1", "get_weather")), Chunk(finish: Proto.FinishReason.ToolCalls));

        FunctionCallContent call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());

        Assert.Equal("call_1", call.CallId);
        Assert.NotNull(call.Exception);
    }

    [Fact]
    public void Complete_StreamEndsWithoutFinish_OpenCallsStillEmitted()
    {
        List<ChatResponseUpdate> updates = Run(Chunk(calls: Fragment(0, "{\"a\":1}", "call_1", "f")));

        ChatResponseUpdate last = Assert.Single(updates);
        Assert.Equal(ChatFinishReason.ToolCalls, last.FinishReason);
        Assert.Equal(1, ((JsonElement)Assert.Single(last.Contents.OfType<FunctionCallContent>()).Arguments!["a"]!).GetInt32());
    }

    [Theory]
    [InlineData((int)Proto.FinishReason.Stop, "stop")]
    [InlineData((int)Proto.FinishReason.Length, "length")]
    [InlineData((int)Proto.FinishReason.ToolCalls, "tool_calls")]
    [InlineData(9, "9")] // a newer server's reason is passed on, not guessed
    public void MapFinish_ProtoReason_IsChatFinishReason(int reason, string expected)
    {
        Assert.Equal(expected, ChatUpdateMapper.MapFinish((Proto.FinishReason)reason)!.Value.Value);
    }
}

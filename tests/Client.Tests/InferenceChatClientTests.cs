using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Client.Mapping;
using Inference.Client.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Tests;

/// <summary>The client against a live gateway over loopback sockets (the bundled demo model, h2c, a key file).</summary>
[Collection(LiveGatewayCollection.Name)]
public sealed class InferenceChatClientTests(LiveGateway gateway) : IDisposable
{
    private const string M = LiveGateway.Model;
    private readonly InferenceChatClient _client = new(gateway.GrpcAddress, LiveGateway.Key, M);

    public void Dispose() => _client.Dispose();

    private static ChatMessage[] Ask(string text) => [new(ChatRole.User, text)];

    private static ChatOptions Options(int maxTokens, float temperature = 0, bool noCache = false, bool ignoreEos = false)
    {
        var options = new ChatOptions { MaxOutputTokens = maxTokens, Temperature = temperature, AdditionalProperties = [] };
        if (noCache)
        {
            options.AdditionalProperties[InferenceAdditionalProperties.NoCache] = true;
        }

        if (ignoreEos)
        {
            options.AdditionalProperties[InferenceAdditionalProperties.IgnoreEos] = true;
        }

        return options;
    }

    private static async Task<List<ChatResponseUpdate>> CollectAsync(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var list = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in updates)
        {
            list.Add(u);
        }

        return list;
    }

    [Fact]
    public async Task GetResponseAsync_Text_AnswerWithUsageIdsAndFinish()
    {
        DateTimeOffset before = DateTimeOffset.UtcNow.AddSeconds(-5);

        ChatResponse response = await _client.GetResponseAsync(Ask("Tell me about the sea."), Options(24)).Within();

        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.StartsWith("chatcmpl-", response.ResponseId, StringComparison.Ordinal);
        Assert.Equal(M, response.ModelId);
        Assert.InRange(response.CreatedAt!.Value, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.True(response.FinishReason == ChatFinishReason.Stop || response.FinishReason == ChatFinishReason.Length, $"finish {response.FinishReason}");
        UsageDetails usage = response.Usage!;
        Assert.True(usage.InputTokenCount > 0);
        Assert.InRange(usage.OutputTokenCount!.Value, 1, 24);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.NotNull(usage.CachedInputTokenCount);
        Assert.IsType<double>(response.AdditionalProperties![InferenceResponseProperties.TimeToFirstTokenSeconds]);
        Assert.IsType<bool>(response.AdditionalProperties[InferenceResponseProperties.CacheHit]);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Greedy_DeltasConcatenateToTheNonStreamedText()
    {
        ChatOptions options = Options(20, noCache: true);
        string expected = (await _client.GetResponseAsync(Ask("Hello"), options).Within()).Text;

        List<ChatResponseUpdate> updates = await CollectAsync(_client.GetStreamingResponseAsync(Ask("Hello"), options)).Within();

        Assert.True(updates.Count(u => u.Text.Length > 0) >= 2, "text arrives in several deltas");
        Assert.Equal(expected, string.Concat(updates.Select(u => u.Text)));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.NotNull(Assert.Single(updates, u => u.FinishReason is not null).FinishReason);
        UsageContent usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Same(updates[^1], updates.Single(u => u.Contents.Contains(usage))); // usage is the stream's last message
        Assert.Equal(false, updates[^1].AdditionalProperties![InferenceResponseProperties.CacheHit]);
    }

    [Fact]
    public async Task RepeatedGreedyRequest_SecondIsACacheHit_NoCacheBypassesIt()
    {
        ChatResponse first = await _client.GetResponseAsync(Ask("What is a river?"), Options(8)).Within();
        ChatResponse second = await _client.GetResponseAsync(Ask("What is a river?"), Options(8)).Within();
        ChatResponse bypass = await _client.GetResponseAsync(Ask("What is a river?"), Options(8, noCache: true)).Within();

        Assert.Equal(false, first.AdditionalProperties![InferenceResponseProperties.CacheHit]);
        Assert.Equal(true, second.AdditionalProperties![InferenceResponseProperties.CacheHit]);
        Assert.Equal(false, bypass.AdditionalProperties![InferenceResponseProperties.CacheHit]);
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(first.Text, bypass.Text);
    }

    [Fact]
    public async Task MaxOutputTokens_IgnoreEos_FinishLengthWithExactlyThatManyTokens()
    {
        List<ChatResponseUpdate> updates = await CollectAsync(_client.GetStreamingResponseAsync(Ask("Tell me a story."), Options(5, ignoreEos: true))).Within();
        ChatResponse response = updates.ToChatResponse();

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
        // The raw chunks carry the token ids: the usage counts exactly the tokens streamed.
        Assert.Equal(5, updates.Select(u => u.RawRepresentation).OfType<Proto.CompletionChunk>().SelectMany(c => c.Choices).Sum(d => d.TokenIds.Count));
    }

    [Fact]
    public async Task Seed_AtTemperatureOne_SameSeedSameText_OtherSeedOtherText()
    {
        ChatOptions Seeded(long seed)
        {
            ChatOptions o = Options(16, temperature: 1, noCache: true, ignoreEos: true);
            o.Seed = seed;
            return o;
        }

        string first = (await _client.GetResponseAsync(Ask("Tell me about the hills."), Seeded(42)).Within()).Text;
        string again = (await _client.GetResponseAsync(Ask("Tell me about the hills."), Seeded(42)).Within()).Text;
        string other = (await _client.GetResponseAsync(Ask("Tell me about the hills."), Seeded(43)).Within()).Text;

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task StopSequences_CutTheTextBeforeTheStopString_FinishStop()
    {
        string full = (await _client.GetResponseAsync(Ask("Tell me about the city."), Options(24, ignoreEos: true)).Within()).Text;
        Assert.True(full.Length >= 12, $"need some text to cut: '{full}'");
        string stop = full.Substring(full.Length / 2, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        ChatOptions options = Options(24, ignoreEos: true);
        options.StopSequences = [stop];

        ChatResponse response = await _client.GetResponseAsync(Ask("Tell me about the city."), options).Within();

        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Usage_InputTokensAreTheTemplatedPromptsTokenCount_InstructionsAddTokens()
    {
        using var channel = GrpcChannel.ForAddress(gateway.GrpcAddress);
        var raw = new Proto.InferenceService.InferenceServiceClient(channel);
        var tokenize = new Proto.TokenizeRequest { Model = M };
        tokenize.Messages.Add(new Proto.ChatMessage { Role = "user", Content = "How are you?" });
        Proto.TokenizeResponse tokens = await raw.TokenizeAsync(tokenize, new Metadata { { "authorization", "Bearer " + LiveGateway.Key } }).ResponseAsync.Within();

        ChatResponse plain = await _client.GetResponseAsync(Ask("How are you?"), Options(2)).Within();
        ChatOptions instructed = Options(2);
        instructed.Instructions = "Answer in one short sentence about the weather.";
        ChatResponse withInstructions = await _client.GetResponseAsync(Ask("How are you?"), instructed).Within();

        Assert.Equal(tokens.Count, plain.Usage!.InputTokenCount);
        Assert.True(withInstructions.Usage!.InputTokenCount > plain.Usage.InputTokenCount + 5, $"{withInstructions.Usage.InputTokenCount} vs {plain.Usage.InputTokenCount}");
    }

    [Fact]
    public async Task ExtrasAndToolOptions_AreAccepted()
    {
        ChatOptions options = Options(4, ignoreEos: true);
        options.ToolMode = ChatToolMode.None; // tool_choice "none"
        options.AllowMultipleToolCalls = false;
        options.AdditionalProperties![InferenceAdditionalProperties.MinP] = 0.05;
        options.AdditionalProperties[InferenceAdditionalProperties.RepetitionPenalty] = 1.1;
        options.AdditionalProperties[InferenceAdditionalProperties.MinTokens] = 4;
        options.AdditionalProperties[InferenceAdditionalProperties.User] = "client-tests-extras";
        options.TopK = 20;
        options.TopP = 0.95f;
        options.PresencePenalty = 0.1f;
        options.FrequencyPenalty = 0.1f;

        ChatResponse response = await _client.GetResponseAsync(Ask("Hello"), options).Within();

        Assert.Equal(4, response.Usage!.OutputTokenCount);
        JsonElement record = await Eventually(async () => (await gateway.UsageRecordsAsync()).FirstOrDefault(r => r.TryGetProperty("user", out JsonElement u) && u.GetString() == "client-tests-extras"));
        Assert.Equal(response.ResponseId, record.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Tools_RequireSpecific_AnAIFunctionIsCalledWithArgumentsItsSchemaAccepts()
    {
        // AIFunctionFactory derives the parameters' JSON Schema from the delegate; the gateway enforces it.
        AIFunction weather = AIFunctionFactory.Create((string city, long days) => $"{city}: sunny for {days} days", "get_weather", "Weather forecast");
        ChatOptions options = Options(120, temperature: 1, noCache: true);
        options.Seed = 7;
        options.Tools = [weather, AIFunctionFactory.Create((string to) => "sent", "send_mail")];
        options.ToolMode = ChatToolMode.RequireSpecific("get_weather");

        ChatResponse response = await _client.GetResponseAsync(Ask("Weather in Seoul?"), options).Within();

        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        FunctionCallContent call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.CallId, StringComparison.Ordinal);
        Assert.IsType<JsonElement>(call.Arguments!["city"]);
        Assert.Equal(JsonValueKind.String, ((JsonElement)call.Arguments["city"]!).ValueKind);
        Assert.Equal(JsonValueKind.Number, ((JsonElement)call.Arguments["days"]!).ValueKind);

        // The call runs as given: the arguments bind to the delegate's parameters.
        object? result = await weather.InvokeAsync(new AIFunctionArguments(call.Arguments));
        Assert.Contains("sunny", result?.ToString(), StringComparison.Ordinal);
    }

    public enum City
    {
        Seoul,
        Busan,
    }

    [Fact]
    public async Task Tools_RequireAny_Streamed_CallsArriveAsFunctionCallContent()
    {
        ChatOptions options = Options(120, temperature: 1, noCache: true);
        options.Seed = 3;
        // Bounded parameters (an enum, a boolean), so no run can end inside an endless string.
        options.Tools = [AIFunctionFactory.Create((City city) => "ok", "get_weather"), AIFunctionFactory.Create((bool urgent) => "sent", "send_mail")];
        options.ToolMode = ChatToolMode.RequireAny;
        options.AllowMultipleToolCalls = false;

        List<ChatResponseUpdate> updates = await CollectAsync(_client.GetStreamingResponseAsync(Ask("Do something"), options)).Within();

        FunctionCallContent call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Contains(call.Name, new[] { "get_weather", "send_mail" });
        Assert.True(call.Arguments is not null, call.Exception?.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Single(u => u.FinishReason is not null).FinishReason);
        Assert.DoesNotContain(updates.SelectMany(u => u.Contents).OfType<TextContent>(), t => t.Text.Length > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a caller's channel reports cancellation as RpcException(Cancelled); the client maps it
    public async Task Cancellation_MidStream_OperationCanceled_GatewayRecordsACancelledRequest(bool callersChannel)
    {
        using var channel = GrpcChannel.ForAddress(gateway.GrpcAddress);
        IChatClient client = callersChannel ? channel.AsIChatClient(M, LiveGateway.Key) : _client;
        using var cts = new CancellationTokenSource();
        ChatOptions options = Options(1000, temperature: 1, noCache: true, ignoreEos: true);
        string user = "client-tests-cancel-" + callersChannel;
        options.AdditionalProperties![InferenceAdditionalProperties.User] = user;
        int received = 0;

        Task consume = Task.Run(async () =>
        {
            await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Ask("Tell me a long story."), options, cts.Token))
            {
                if (++received == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        OperationCanceledException ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consume).Within();
        Assert.Equal(cts.Token, ex.CancellationToken);
        JsonElement record = await Eventually(async () => (await gateway.UsageRecordsAsync()).FirstOrDefault(r => r.TryGetProperty("user", out JsonElement u) && u.GetString() == user));
        Assert.Equal("cancelled", record.GetProperty("status").GetString());
        Assert.InRange(record.GetProperty("completion_tokens").GetInt32(), 3, 999);
    }

    [Fact]
    public async Task ConcurrentCalls_OnOneClient_EachGetsItsOwnAnswer()
    {
        Task<ChatResponse>[] calls = Enumerable.Range(0, 4)
            .Select(i => _client.GetResponseAsync(Ask("Hello"), Options(3 + i, noCache: true, ignoreEos: true)))
            .ToArray();

        ChatResponse[] responses = await Task.WhenAll(calls).Within();

        Assert.Equal([3L, 4L, 5L, 6L], responses.Select(r => r.Usage!.OutputTokenCount!.Value));
        Assert.Equal(4, responses.Select(r => r.ResponseId).Distinct().Count());
    }

    [Fact]
    public async Task BreakingOutOfTheStream_EndsTheCall_ClientKeepsServing()
    {
        ChatOptions options = Options(1000, temperature: 1, noCache: true, ignoreEos: true);
        options.AdditionalProperties![InferenceAdditionalProperties.User] = "client-tests-break";
        using var timeout = new CancellationTokenSource(TestTimeouts.Call);
        await foreach (ChatResponseUpdate update in _client.GetStreamingResponseAsync(Ask("Tell me a long story."), options, timeout.Token))
        {
            break;
        }

        JsonElement record = await Eventually(async () => (await gateway.UsageRecordsAsync()).FirstOrDefault(r => r.TryGetProperty("user", out JsonElement u) && u.GetString() == "client-tests-break"));
        Assert.Equal("cancelled", record.GetProperty("status").GetString());
        ChatResponse next = await _client.GetResponseAsync(Ask("Hello"), Options(2)).Within();
        Assert.InRange(next.Usage!.OutputTokenCount!.Value, 1, 2);
    }

    [Fact]
    public async Task InvalidOption_InferenceServiceExceptionNamingTheProtoField()
    {
        ChatOptions options = Options(4, temperature: 3);

        InferenceServiceException ex = await Assert.ThrowsAsync<InferenceServiceException>(() => _client.GetResponseAsync(Ask("Hello"), options)).Within();

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("sampling.temperature", ex.Field);
        Assert.Contains("sampling.temperature", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModel_NotFound_StreamingToo()
    {
        var options = new ChatOptions { ModelId = "no-such-model", MaxOutputTokens = 2 };

        InferenceServiceException ex = await Assert.ThrowsAsync<InferenceServiceException>(() => _client.GetResponseAsync(Ask("Hello"), options)).Within();
        InferenceServiceException streamed = await Assert.ThrowsAsync<InferenceServiceException>(() => CollectAsync(_client.GetStreamingResponseAsync(Ask("Hello"), options))).Within();

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("model", ex.Field);
        Assert.Equal(StatusCode.NotFound, streamed.StatusCode);
    }

    [Fact]
    public async Task WrongKey_Unauthenticated()
    {
        using var client = new InferenceChatClient(gateway.GrpcAddress, "sk-not-a-key-0123456789", M);

        InferenceServiceException ex = await Assert.ThrowsAsync<InferenceServiceException>(() => client.GetResponseAsync(Ask("Hello"), Options(2))).Within();

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public void GetService_MetadataClientAndChannel_NothingForAKey()
    {
        var metadata = Assert.IsType<ChatClientMetadata>(_client.GetService(typeof(ChatClientMetadata)));

        Assert.Equal(InferenceChatClient.ProviderName, metadata.ProviderName);
        Assert.Equal(gateway.GrpcAddress, metadata.ProviderUri);
        Assert.Equal(M, metadata.DefaultModelId);
        Assert.Same(_client, _client.GetService<InferenceChatClient>());
        Assert.Same(_client, _client.GetService<IChatClient>());
        Assert.NotNull(_client.GetService<GrpcChannel>());
        Assert.Null(_client.GetService(typeof(ChatClientMetadata), "some-key"));
        Assert.Null(_client.GetService<string>());
    }

    [Fact]
    public async Task Dispose_OverACallersChannel_LeavesItOpen_OwnChannelIsClosed()
    {
        using var channel = GrpcChannel.ForAddress(gateway.GrpcAddress);
        IChatClient borrowed = channel.AsIChatClient(M, LiveGateway.Key);
        await borrowed.GetResponseAsync(Ask("Hello"), Options(1)).Within();
        borrowed.Dispose();
        var owned = new InferenceChatClient(gateway.GrpcAddress, LiveGateway.Key, M);
        var ownedChannel = owned.GetService<GrpcChannel>()!;
        owned.Dispose();

        ChatResponse after = await channel.AsIChatClient(M, LiveGateway.Key).GetResponseAsync(Ask("Hello"), Options(1)).Within();

        Assert.Equal(1, after.Usage!.OutputTokenCount);
        Assert.Null(borrowed.GetService<ChatClientMetadata>()!.ProviderUri);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => ownedChannel.ConnectAsync()).Within();
    }

    [Fact]
    public void RefusedOption_ThrowsAtTheCall_BeforeAnythingIsSent()
    {
        Assert.Throws<NotSupportedException>(() => _client.GetStreamingResponseAsync(Ask("Hello"), new ChatOptions { ConversationId = "c" }));
    }

    private static async Task<JsonElement> Eventually(Func<Task<JsonElement>> probe)
    {
        // The usage record is written when the request ends, which may be just after the client saw its end.
        using var deadline = new CancellationTokenSource(TestTimeouts.Call);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (true)
        {
            JsonElement found = await probe();
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await tick.WaitForNextTickAsync(deadline.Token);
        }
    }
}

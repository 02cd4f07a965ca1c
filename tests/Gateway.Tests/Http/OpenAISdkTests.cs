using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace Inference.Gateway.Tests.Http;

/// <summary>End to end over real sockets with the official OpenAI .NET SDK as the client.</summary>
public abstract class OpenAISdkTests(IModelFixture model) : IAsyncLifetime
{
    private const string Key = "sk-test-sdk-0123456789abcdef";
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], $$$"""{"keys":[{"key":"{{{Key}}}","tenant":"sdk","tier":"enterprise"}]}""");

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private ChatClient Chat(string key = Key) =>
        new(ModelFixture.ModelName, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseAddress, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    [Fact]
    public async Task CompleteChat_Greedy_ReturnsTextUsageAndFinishReason()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync(
            [new UserChatMessage("The jury said that")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(ModelFixture.ModelName, completion.Model);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.True(completion.Usage.InputTokenCount > 5);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 12);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.True(completion.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);
        if (completion.Usage.OutputTokenCount == 12)
        {
            Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        }
    }

    [Fact]
    public async Task CompleteChat_900TokenMessage_IsServedWithinTheModelsContext()
    {
        // The bundled model's context is 1,024 tokens: a system prompt plus a long pasted text must fit.
        var tokenizer = model.Host.Runtime.Tokenizer;
        const string SystemPrompt = "You are a helpful assistant.";
        var text = new System.Text.StringBuilder("Read this and continue it. ");
        int PromptTokens() => tokenizer.Encode(
            tokenizer.ChatTemplate!.Render([new("system", SystemPrompt), new("user", text.ToString())]), addSpecialTokens: false).Length;
        for (int i = 0; PromptTokens() < 900; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"On day {i} the farmer walked down to the market by the river, and the children followed him. ");
        }

        ChatCompletion completion = await Chat().CompleteChatAsync(
            [new SystemChatMessage(SystemPrompt), new UserChatMessage(text.ToString())],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64 }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(PromptTokens(), completion.Usage.InputTokenCount);
        Assert.InRange(completion.Usage.InputTokenCount, 900, 1024 - 64);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 64);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
    }

    [Fact]
    public async Task CompleteChatStreaming_ConcatenatedDeltasEqualNonStreamingText_WithUsageLast()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        List<ChatMessage> messages = [new UserChatMessage("Tell me about the city.")];
        ChatCompletion whole = await Chat().CompleteChatAsync(messages, options).WaitAsync(TimeSpan.FromSeconds(60));

        var text = new System.Text.StringBuilder();
        var ids = new HashSet<string>();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        int updates = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (StreamingChatCompletionUpdate update in Chat().CompleteChatStreamingAsync(messages, options, cts.Token))
        {
            updates++;
            ids.Add(update.CompletionId);
            foreach (ChatMessageContentPart part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
            if (update.Usage is not null)
            {
                usage = update.Usage;
            }
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Single(ids);
        Assert.True(updates > 2);
        Assert.Equal(whole.FinishReason, finish);
        Assert.NotNull(usage); // the SDK asks for stream_options.include_usage
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task CompleteChat_Logprobs_ReturnsOneEntryPerTokenWithTopAlternatives()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync(
            [new UserChatMessage("Hello")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 }).WaitAsync(TimeSpan.FromSeconds(60));

        IReadOnlyList<ChatTokenLogProbabilityDetails> lps = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, lps.Count);
        foreach (ChatTokenLogProbabilityDetails lp in lps)
        {
            Assert.True(lp.LogProbability <= 0);
            Assert.Equal(3, lp.TopLogProbabilities.Count);
            // Greedy: the sampled token is the most likely one.
            Assert.Equal(lp.TopLogProbabilities[0].LogProbability, lp.LogProbability, 4);
            Assert.True(lp.TopLogProbabilities[0].LogProbability >= lp.TopLogProbabilities[1].LogProbability);
        }

        // The tokens spell the text (the SentencePiece dummy-prefix space and the skipped EOS aside).
        Assert.Equal(completion.Content[0].Text.TrimStart(' '), string.Concat(lps.Select(l => l.Token).Where(t => t != "</s>")).TrimStart(' '));
    }

    [Fact]
    public async Task CompleteChat_StopSequence_TextEndsBeforeIt()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
#pragma warning disable SCME0001 // vLLM's ignore_eos, which the SDK does not model: a long enough text to cut
        options.Patch.Set("$.ignore_eos"u8, true);
#pragma warning restore SCME0001
        List<ChatMessage> messages = [new UserChatMessage("The jury said that")];
        string free = (await Chat().CompleteChatAsync(messages, options).WaitAsync(TimeSpan.FromSeconds(60))).Value.Content[0].Text;
        Assert.True(free.Length >= 12, $"need some text to pick a stop from: '{free}'");
        string stop = free.Substring(free.Length / 2, 3);
        options.StopSequences.Add(stop);

        ChatCompletion stopped = await Chat().CompleteChatAsync(messages, options).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task CompleteChat_SameSeed_SameText_DifferentSeedsDiffer()
    {
        List<ChatMessage> messages = [new UserChatMessage("Once upon a time")];
        async Task<string> Run(long seed)
        {
            var options = new ChatCompletionOptions { Temperature = 1.0f, MaxOutputTokenCount = 20 };
#pragma warning disable OPENAI001
            options.Seed = seed;
#pragma warning restore OPENAI001
            using var request = new System.Threading.CancellationTokenSource(TimeSpan.FromSeconds(60));
            ChatCompletion c = await Chat().CompleteChatAsync(messages, options, request.Token);
            return c.Content[0].Text;
        }

        string a1 = await Run(7);
        string a2 = await Run(7);
        var others = new HashSet<string> { await Run(8), await Run(9), await Run(10) };

        Assert.Equal(a1, a2);
        Assert.True(others.Count > 1 || !others.Contains(a1), "different seeds should give different samples");
    }

    [Fact]
    public async Task CompleteChat_NTwo_ReturnsTwoChoicesWithIndexes()
    {
        var options = new ChatCompletionOptions { Temperature = 1.0f, MaxOutputTokenCount = 8 };
#pragma warning disable SCME0001 // JsonPatch is the SDK's way to send fields it does not model (n)
        options.Patch.Set("$.n"u8, 2);
#pragma warning restore SCME0001
        ClientResult<ChatCompletion> result = await Chat().CompleteChatAsync([new UserChatMessage("Hi")], options).WaitAsync(TimeSpan.FromSeconds(60));

        using JsonDocument raw = JsonDocument.Parse(result.GetRawResponse().Content);
        JsonElement choices = raw.RootElement.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        Assert.Equal(0, choices[0].GetProperty("index").GetInt32());
        Assert.Equal(1, choices[1].GetProperty("index").GetInt32());
        int generated = raw.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.InRange(generated, 2, 16);
    }

    [Fact]
    public async Task Completions_ThroughTheSdkPipeline_StreamingAndNot()
    {
        var client = new OpenAIClient(new ApiKeyCredential(Key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseAddress, "/v1") });
        ClientPipeline pipeline = client.Pipeline;

        async Task<string> SendAsync(string body)
        {
            using PipelineMessage message = pipeline.CreateMessage();
            message.Request.Method = "POST";
            message.Request.Uri = new Uri(_gateway.BaseAddress, "/v1/completions");
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Headers.Set("Authorization", "Bearer " + Key);
            message.Request.Content = BinaryContent.Create(BinaryData.FromString(body));
            await pipeline.SendAsync(message).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(200, message.Response!.Status);
            return message.Response.Content.ToString();
        }

        string whole = await SendAsync($$$"""{"model":"{{{ModelFixture.ModelName}}}","prompt":"The jury said that","max_tokens":10,"temperature":0,"logprobs":2}""");
        using JsonDocument doc = JsonDocument.Parse(whole);
        JsonElement choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("text_completion", doc.RootElement.GetProperty("object").GetString());
        string text = choice.GetProperty("text").GetString()!;
        JsonElement logprobs = choice.GetProperty("logprobs");
        int tokens = doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.Equal(tokens, logprobs.GetProperty("tokens").GetArrayLength());
        Assert.Equal(tokens, logprobs.GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(tokens, logprobs.GetProperty("text_offset").GetArrayLength());
        Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), t => Assert.InRange(t.EnumerateObject().Count(), 1, 2));

        string streamed = await SendAsync($$$"""{"model":"{{{ModelFixture.ModelName}}}","prompt":"The jury said that","max_tokens":10,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""");
        var pieces = new System.Text.StringBuilder();
        int? usageTokens = null;
        foreach (string line in streamed.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", line, StringComparison.Ordinal);
            string data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                continue;
            }

            using JsonDocument chunk = JsonDocument.Parse(data);
            JsonElement choices = chunk.RootElement.GetProperty("choices");
            if (choices.GetArrayLength() == 0)
            {
                usageTokens = chunk.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
                continue;
            }

            pieces.Append(choices[0].GetProperty("text").GetString());
        }

        Assert.Equal(text, pieces.ToString());
        Assert.Equal(tokens, usageTokens);
    }
}

[Collection(ModelCollection.Name)]
public sealed class OpenAISdkTestsInProcess(ModelFixture model) : OpenAISdkTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class OpenAISdkTestsOverGrpcWorker(GrpcModelFixture model) : OpenAISdkTests(model);

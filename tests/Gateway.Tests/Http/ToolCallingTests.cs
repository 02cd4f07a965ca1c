#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK; the server implements it.
using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Gateway.Tests.Infrastructure;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Tool calling end to end on the bundled model through the official OpenAI SDK and gRPC: tool_choice
/// required and named are enforced by constrained decoding, so every call names a defined function and its
/// arguments validate against that function's schema (JsonSchema.Net) at temperature 1; streamed calls
/// reassemble to exactly the non-streamed ones; finish_reason is tool_calls; bad definitions are 400s naming the
/// field and the server keeps serving. Conversations with tool turns run on a generated model whose real
/// Qwen2.5 template renders them (<see cref="ToolTemplateTests"/>): the bundled model's Llama 2 template has none.
/// </summary>
public abstract class ToolCallingTests(IModelFixture model, string modelName = ModelFixture.ModelName) : IAsyncLifetime
{
    internal const string WeatherSchema = """{"type":"object","properties":{"city":{"enum":["Seoul","Busan","Incheon"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}""";
    internal const string MailSchema = """{"type":"object","properties":{"to":{"type":"string","maxLength":12},"urgent":{"type":"boolean"}},"required":["to","urgent"],"additionalProperties":false}""";
    private TestGateway _gateway = null!;

    private static readonly Dictionary<string, string> Schemas = new() { ["get_weather"] = WeatherSchema, ["send_mail"] = MailSchema };

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private ChatClient Chat() =>
        new(modelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseAddress, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    internal static ChatCompletionOptions Options(ChatToolChoice choice, long seed, bool? parallel = null)
    {
        var options = new ChatCompletionOptions { Temperature = 1, Seed = seed, MaxOutputTokenCount = 200, ToolChoice = choice, AllowParallelToolCalls = parallel };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather forecast for a city", BinaryData.FromString(WeatherSchema)));
        options.Tools.Add(ChatTool.CreateFunctionTool("send_mail", "Send a short mail", BinaryData.FromString(MailSchema)));
        return options;
    }

    internal static void AssertValidCall(string name, string arguments)
    {
        Assert.True(Schemas.TryGetValue(name, out string? schema), $"'{name}' is not a defined tool");
        using JsonDocument doc = JsonDocument.Parse(arguments);
        Assert.True(JsonSchema.FromText(schema).Evaluate(doc.RootElement).IsValid, $"{name}({arguments})");
    }

    [Fact]
    public async Task Required_EveryCallIsADefinedFunctionWithValidArguments()
    {
        for (long seed = 1; seed <= 4; seed++)
        {
            ChatCompletion c = await Chat().CompleteChatAsync([new UserChatMessage("What is the weather?")], Options(ChatToolChoice.CreateRequiredChoice(), seed, parallel: false));
            Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
            Assert.Empty(c.Content);
            ChatToolCall call = Assert.Single(c.ToolCalls); // parallel_tool_calls false: one call
            Assert.Equal(ChatToolCallKind.Function, call.Kind);
            Assert.Matches("^call_[0-9a-f]{24}$", call.Id);
            AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());
        }
    }

    [Fact]
    public async Task Named_CallsThatFunction()
    {
        for (long seed = 1; seed <= 3; seed++)
        {
            ChatCompletion c = await Chat().CompleteChatAsync([new UserChatMessage("Mail Kim.")], Options(ChatToolChoice.CreateFunctionChoice("send_mail"), seed));
            Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
            ChatToolCall call = Assert.Single(c.ToolCalls);
            Assert.Equal("send_mail", call.FunctionName);
            AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());
        }
    }

    [Fact]
    public async Task None_IsText_EvenWithTools()
    {
        ChatCompletion c = await Chat().CompleteChatAsync([new UserChatMessage("Hello")], Options(ChatToolChoice.CreateNoneChoice(), 1));
        Assert.Empty(c.ToolCalls);
        Assert.NotEqual(ChatFinishReason.ToolCalls, c.FinishReason);
        Assert.NotEmpty(c.Content[0].Text);
    }

    [Fact]
    public async Task Auto_TextWithoutACall_IsContent_StreamedEqualsNonStreamed()
    {
        // Neither test model has learnt a call format, so auto finds no call in their text: it is all content,
        // the same streamed and not. On the bundled model (whose Llama 2 template shows no tools) it is also what
        // the same seed gives without tools.
        List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Tell me about Seoul")];
        ChatCompletion withTools = await Chat().CompleteChatAsync(messages, Options(ChatToolChoice.CreateAutoChoice(), 5));
        Assert.Empty(withTools.ToolCalls);
        var streamed = new StringBuilder();
        await foreach (StreamingChatCompletionUpdate u in Chat().CompleteChatStreamingAsync(messages, Options(ChatToolChoice.CreateAutoChoice(), 5)))
        {
            Assert.Empty(u.ToolCallUpdates);
            foreach (ChatMessageContentPart part in u.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Assert.Equal(withTools.Content[0].Text, streamed.ToString());
        if (modelName == ModelFixture.ModelName)
        {
            ChatCompletion without = await Chat().CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 1, Seed = 5, MaxOutputTokenCount = 200 });
            Assert.Equal(without.Content[0].Text, withTools.Content[0].Text);
            Assert.Equal(without.FinishReason, withTools.FinishReason);
        }
    }

    [Theory]
    [InlineData("required", true)]
    [InlineData("required", false)]
    [InlineData("named", null)]
    public async Task Streamed_CallsReassembleToTheNonStreamedOnes(string mode, bool? parallel)
    {
        for (long seed = 1; seed <= 3; seed++)
        {
            ChatToolChoice choice = mode == "named" ? ChatToolChoice.CreateFunctionChoice("get_weather") : ChatToolChoice.CreateRequiredChoice();
            List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Weather in Busan, then mail me")];
            ChatCompletion whole = await Chat().CompleteChatAsync(messages, Options(choice, seed, parallel));

            var ids = new Dictionary<int, string>();
            var names = new Dictionary<int, string>();
            var args = new Dictionary<int, StringBuilder>();
            ChatFinishReason? finish = null;
            await foreach (StreamingChatCompletionUpdate u in Chat().CompleteChatStreamingAsync(messages, Options(choice, seed, parallel)))
            {
                foreach (StreamingChatToolCallUpdate t in u.ToolCallUpdates)
                {
                    if (t.ToolCallId is not null)
                    {
                        Assert.False(ids.ContainsKey(t.Index), "a call's id comes once, on its first fragment");
                        ids[t.Index] = t.ToolCallId;
                        names[t.Index] = t.FunctionName;
                        args[t.Index] = new StringBuilder();
                    }

                    args[t.Index].Append(t.FunctionArgumentsUpdate?.ToString());
                }

                finish ??= u.FinishReason;
            }

            // Parallel calls are unbounded in number, so a run may end by max_tokens inside one (length).
            Assert.Equal(whole.FinishReason, finish);
            Assert.True(finish == ChatFinishReason.ToolCalls || (parallel == true && finish == ChatFinishReason.Length), $"finish {finish}");
            Assert.Equal(whole.ToolCalls.Count, ids.Count);
            for (int i = 0; i < whole.ToolCalls.Count; i++)
            {
                Assert.Equal(whole.ToolCalls[i].Id.Length, ids[i].Length);
                Assert.Equal(whole.ToolCalls[i].FunctionName, names[i]);
                Assert.Equal(whole.ToolCalls[i].FunctionArguments.ToString(), args[i].ToString());
                if (finish == ChatFinishReason.ToolCalls || i < whole.ToolCalls.Count - 1)
                {
                    AssertValidCall(names[i], args[i].ToString());
                }
            }
        }
    }

    [Fact]
    public async Task Grpc_RequiredCall_StreamsToolCallDeltas()
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!);
        var client = new InferenceService.InferenceServiceClient(channel);
        var request = new ChatRequest
        {
            Model = modelName,
            Sampling = new SamplingOptions { MaxTokens = 200, Temperature = 1, Seed = 3 },
            ToolChoice = new ToolChoice { Mode = "required" },
            ParallelToolCalls = false,
        };
        request.Tools.Add(new Tool { Name = "get_weather", Description = "Weather", Parameters = WeatherSchema });
        request.Tools.Add(new Tool { Name = "send_mail", Parameters = MailSchema });
        request.Messages.Add(new Inference.Gateway.Grpc.ChatMessage { Role = "user", Content = "Weather?" });
        string? id = null, name = null;
        var args = new StringBuilder();
        var text = new StringBuilder();
        Inference.Gateway.Grpc.FinishReason finish = Inference.Gateway.Grpc.FinishReason.Unspecified;
        using AsyncServerStreamingCall<CompletionChunk> call = client.Chat(request, deadline: DateTime.UtcNow.AddSeconds(60));
        await foreach (CompletionChunk chunk in call.ResponseStream.ReadAllAsync())
        {
            foreach (ChoiceDelta delta in chunk.Choices)
            {
                text.Append(delta.Text);
                foreach (ToolCallDelta t in delta.ToolCalls)
                {
                    Assert.Equal(0, t.Index);
                    if (t.Id.Length > 0)
                    {
                        Assert.Null(id);
                        (id, name) = (t.Id, t.Name);
                    }

                    args.Append(t.Arguments);
                }

                if (delta.FinishReason != Inference.Gateway.Grpc.FinishReason.Unspecified)
                {
                    finish = delta.FinishReason;
                }
            }
        }

        Assert.Equal(Inference.Gateway.Grpc.FinishReason.ToolCalls, finish);
        Assert.Equal(string.Empty, text.ToString());
        Assert.Matches("^call_[0-9a-f]{24}$", id);
        AssertValidCall(name!, args.ToString());
    }

    [Fact]
    public async Task BadToolDefinition_Is400NamingIt_AndTheServerKeepsServing()
    {
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("lookup", null, BinaryData.FromString("""{"type":"object","properties":{"q":{"type":"string","format":"hostname"}}}""")));
        ClientResultException ex = await Assert.ThrowsAsync<ClientResultException>(() => Chat().CompleteChatAsync([new UserChatMessage("x")], options));
        Assert.Equal(400, ex.Status);
        Assert.Contains("tools[0].function.parameters", ex.Message, StringComparison.Ordinal);
        Assert.Contains("hostname", ex.Message, StringComparison.Ordinal);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("{\"model\":\"" + modelName + "\", " + """ "messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        using HttpResponseMessage bad = await _gateway.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("tool_choice.function.name", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString());

        ChatCompletion ok = await Chat().CompleteChatAsync([new UserChatMessage("x")], Options(ChatToolChoice.CreateRequiredChoice(), 1, parallel: false));
        Assert.Single(ok.ToolCalls);
    }
}

[Collection(ModelCollection.Name)]
public sealed class ToolCallingTestsInProcess(ModelFixture model) : ToolCallingTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class ToolCallingTestsOverGrpcWorker(GrpcModelFixture model) : ToolCallingTests(model);

[Collection(ToolModelCollection.Name)]
public sealed class ToolCallingTestsByteLevelModel(ToolModelFixture model) : ToolCallingTests(model, ToolModelFixture.ModelName);

using System.Text;
using Inference.Gateway.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;
using System.ClientModel;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Tools through a real chat template (Qwen2.5-Instruct's, on a generated 4,096-token model): the tool
/// definitions, the assistant's calls and the tools' results all reach the prompt, and a conversation with
/// tool turns goes on.
/// </summary>
[Collection(ToolModelCollection.Name)]
public sealed class ToolTemplateTests(ToolModelFixture model) : IAsyncLifetime
{
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private ChatClient Chat() =>
        new(ToolModelFixture.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseAddress, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    [Fact]
    public async Task ToolDefinitions_AreRenderedIntoThePrompt()
    {
        List<ChatMessage> messages = [new UserChatMessage("Weather?")];
        ChatCompletion plain = await Chat().CompleteChatAsync(messages, new ChatCompletionOptions { MaxOutputTokenCount = 1 });
        ChatCompletion tools = await Chat().CompleteChatAsync(messages, ToolCallingTests.Options(ChatToolChoice.CreateAutoChoice(), 1));
        var longer = ToolCallingTests.Options(ChatToolChoice.CreateAutoChoice(), 1);
        longer.Tools.Add(ChatTool.CreateFunctionTool("lookup_population", "Population of a city, from the national statistics office's latest census", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")));
        ChatCompletion more = await Chat().CompleteChatAsync(messages, longer);

        // Qwen2.5's template adds a system turn with a <tools> block holding each definition as JSON.
        Assert.True(tools.Usage.InputTokenCount > plain.Usage.InputTokenCount + 50, $"{plain.Usage.InputTokenCount} -> {tools.Usage.InputTokenCount}");
        Assert.True(more.Usage.InputTokenCount > tools.Usage.InputTokenCount + 20, $"{tools.Usage.InputTokenCount} -> {more.Usage.InputTokenCount}");
    }

    [Fact]
    public async Task MultiTurn_WithCallsAndToolResults_GoesOn_AndTheResultsReachThePrompt()
    {
        ChatCompletion first = await Chat().CompleteChatAsync([new UserChatMessage("Weather?")], ToolCallingTests.Options(ChatToolChoice.CreateFunctionChoice("get_weather"), 2));
        ChatToolCall call = Assert.Single(first.ToolCalls);
        ToolCallingTests.AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());

        async Task<ChatCompletion> Next(string result)
        {
            List<ChatMessage> conversation = [new UserChatMessage("Weather?"), new AssistantChatMessage(first), new ToolChatMessage(call.Id, result)];
            return await Chat().CompleteChatAsync(conversation, ToolCallingTests.Options(ChatToolChoice.CreateNoneChoice(), 2));
        }

        ChatCompletion sunny = await Next("""{"forecast":"sunny"}""");
        ChatCompletion snow = await Next("""{"forecast":"snow and strong wind all week long, roads closed in the mountains"}""");
        Assert.Empty(sunny.ToolCalls);
        Assert.True(snow.Usage.InputTokenCount > sunny.Usage.InputTokenCount + 10, $"{sunny.Usage.InputTokenCount} vs {snow.Usage.InputTokenCount}");

        // The assistant's call is in the prompt too: other arguments, another prompt.
        List<ChatMessage> edited =
        [
            new UserChatMessage("Weather?"),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(call.Id, "get_weather", BinaryData.FromString("""{"city":"Incheon","days":7,"note":"a much longer argument list than before"}"""))]),
            new ToolChatMessage(call.Id, """{"forecast":"sunny"}"""),
        ];
        ChatCompletion other = await Chat().CompleteChatAsync(edited, ToolCallingTests.Options(ChatToolChoice.CreateNoneChoice(), 2));
        Assert.True(other.Usage.InputTokenCount > sunny.Usage.InputTokenCount, $"{sunny.Usage.InputTokenCount} vs {other.Usage.InputTokenCount}");
    }
}

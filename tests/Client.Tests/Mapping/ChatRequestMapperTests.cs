using System.Text.Json;
using Inference.Client.Mapping;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Tests.Mapping;

/// <summary>ChatMessages and ChatOptions as the ChatRequest the client sends (no server).</summary>
public sealed class ChatRequestMapperTests
{
    private static readonly ChatMessage[] Hello = [new(ChatRole.User, "Hello")];

    private static Proto.ChatRequest Map(ChatOptions? options, params ChatMessage[] messages) =>
        ChatRequestMapper.ToRequest(messages.Length == 0 ? Hello : messages, options, "default-model");

    [Fact]
    public void ToRequest_NoOptions_DefaultModelOneChoiceAndNothingElseSet()
    {
        Proto.ChatRequest request = Map(null);

        Assert.Equal("default-model", request.Model);
        Assert.Equal(1, request.Sampling.N);
        Assert.False(request.Sampling.HasMaxTokens);
        Assert.False(request.Sampling.HasTemperature);
        Assert.False(request.Sampling.HasSeed);
        Assert.Empty(request.Tools);
        Assert.Null(request.ToolChoice);
        Assert.False(request.HasParallelToolCalls);
        Assert.Null(request.ResponseFormat);
        Proto.ChatMessage message = Assert.Single(request.Messages);
        Assert.Equal(("user", "Hello"), (message.Role, message.Content));
    }

    [Fact]
    public void ToRequest_SamplingOptions_EachReachesItsProtoField()
    {
        var options = new ChatOptions
        {
            ModelId = "other",
            MaxOutputTokens = 17,
            Temperature = 0.5f,
            TopP = 0.9f,
            TopK = 40,
            FrequencyPenalty = 0.25f,
            PresencePenalty = -0.5f,
            Seed = 1234567890123,
            StopSequences = ["\n\n", "END"],
        };

        Proto.SamplingOptions s = Map(options).Sampling;

        Assert.Equal("other", Map(options).Model);
        Assert.Equal(17, s.MaxTokens);
        Assert.Equal(0.5f, s.Temperature);
        Assert.Equal(0.9f, s.TopP);
        Assert.Equal(40, s.TopK);
        Assert.Equal(0.25f, s.FrequencyPenalty);
        Assert.Equal(-0.5f, s.PresencePenalty);
        Assert.Equal(1234567890123, s.Seed);
        Assert.Equal(["\n\n", "END"], s.Stop);
        Assert.Equal(1, s.N);
    }

    [Fact]
    public void ToRequest_Instructions_LeadAsSystemMessage_RolesAndNamesKept()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.System, "Be brief."),
            new(ChatRole.User, "Hi") { AuthorName = "kim" },
            new(ChatRole.Assistant, [new TextContent("Hel"), new TextContent("lo")]),
            new(new ChatRole("developer"), "Answer in English."),
        ];

        Proto.ChatRequest request = Map(new ChatOptions { Instructions = "You are a tutor." }, messages);

        Assert.Equal(
            [("system", "You are a tutor.", ""), ("system", "Be brief.", ""), ("user", "Hi", "kim"), ("assistant", "Hello", ""), ("developer", "Answer in English.", "")],
            request.Messages.Select(m => (m.Role, m.Content, m.Name)));
    }

    [Fact]
    public void ToRequest_FunctionCallAndResult_BecomeToolCallsAndToolMessages()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.User, "Weather in Seoul and Busan?"),
            new(ChatRole.Assistant,
            [
                new TextContent("Let me look."),
                new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Seoul", ["days"] = 2 }),
                new FunctionCallContent("call_2", "get_weather", new Dictionary<string, object?> { ["city"] = "Busan" }),
            ]),
            new(ChatRole.Tool,
            [
                new FunctionResultContent("call_1", "sunny"),
                new FunctionResultContent("call_2", new Forecast("Busan", 21.5)),
            ]),
        ];

        Proto.ChatRequest request = Map(null, messages);

        Assert.Equal(4, request.Messages.Count);
        Proto.ChatMessage assistant = request.Messages[1];
        Assert.Equal(("assistant", "Let me look."), (assistant.Role, assistant.Content));
        Assert.Equal(["call_1", "call_2"], assistant.ToolCalls.Select(c => c.Id));
        Assert.All(assistant.ToolCalls, c => Assert.Equal("get_weather", c.Name));
        using (JsonDocument args = JsonDocument.Parse(assistant.ToolCalls[0].Arguments))
        {
            Assert.Equal("Seoul", args.RootElement.GetProperty("city").GetString());
            Assert.Equal(2, args.RootElement.GetProperty("days").GetInt32());
        }

        Assert.Equal(("tool", "call_1", "sunny"), (request.Messages[2].Role, request.Messages[2].ToolCallId, request.Messages[2].Content));
        Assert.Equal(("tool", "call_2"), (request.Messages[3].Role, request.Messages[3].ToolCallId));
        using JsonDocument result = JsonDocument.Parse(request.Messages[3].Content);
        Assert.Equal(21.5, result.RootElement.GetProperty("celsius").GetDouble());
    }

    [Fact]
    public void ToRequest_Tools_FunctionsWithTheirJsonSchemaAsParameters()
    {
        AIFunction add = AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds two numbers.");
        using JsonDocument schema = JsonDocument.Parse("""{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}""");
        AIFunctionDeclaration search = AIFunctionFactory.CreateDeclaration("search", "Searches the web.", schema.RootElement.Clone());

        Proto.ChatRequest request = Map(new ChatOptions { Tools = [add, search] });

        Assert.Equal(["add", "search"], request.Tools.Select(t => t.Name));
        Assert.Equal("Adds two numbers.", request.Tools[0].Description);
        using (JsonDocument addSchema = JsonDocument.Parse(request.Tools[0].Parameters))
        {
            Assert.Equal(["a", "b"], addSchema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        }

        Assert.Equal(schema.RootElement.GetRawText(), request.Tools[1].Parameters);
        Assert.False(request.Tools[1].HasStrict);
    }

    public static TheoryData<string, string, string> ToolModes() => new()
    {
        { "auto", "mode", "auto" },
        { "none", "mode", "none" },
        { "required", "mode", "required" },
        { "specific", "function", "search" },
    };

    [Theory]
    [MemberData(nameof(ToolModes))]
    public void ToRequest_ToolMode_IsToolChoice(string mode, string expectedCase, string expected)
    {
        ChatToolMode toolMode = mode switch
        {
            "auto" => ChatToolMode.Auto,
            "none" => ChatToolMode.None,
            "required" => ChatToolMode.RequireAny,
            _ => ChatToolMode.RequireSpecific("search"),
        };

        Proto.ToolChoice choice = Map(new ChatOptions { ToolMode = toolMode }).ToolChoice;

        Assert.Equal(expectedCase, choice.ChoiceCase == Proto.ToolChoice.ChoiceOneofCase.Mode ? "mode" : "function");
        Assert.Equal(expected, choice.ChoiceCase == Proto.ToolChoice.ChoiceOneofCase.Mode ? choice.Mode : choice.Function);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ToRequest_AllowMultipleToolCalls_IsParallelToolCalls(bool allow)
    {
        Proto.ChatRequest request = Map(new ChatOptions { AllowMultipleToolCalls = allow });

        Assert.True(request.HasParallelToolCalls);
        Assert.Equal(allow, request.ParallelToolCalls);
    }

    [Fact]
    public void ToRequest_ResponseFormats_TextNoneJsonObjectJsonSchema()
    {
        using JsonDocument schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"string"}}}""");

        Proto.ChatRequest text = Map(new ChatOptions { ResponseFormat = ChatResponseFormat.Text });
        Proto.ChatRequest json = Map(new ChatOptions { ResponseFormat = ChatResponseFormat.Json });
        Proto.ChatRequest withSchema = Map(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement, "answer", "One answer.") });
        Proto.ChatRequest unnamed = Map(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement) });

        Assert.Null(text.ResponseFormat);
        Assert.Equal(Proto.ResponseFormat.FormatOneofCase.JsonObject, json.ResponseFormat.FormatCase);
        Assert.Equal(Proto.ResponseFormat.FormatOneofCase.JsonSchema, withSchema.ResponseFormat.FormatCase);
        Assert.Equal(("answer", "One answer."), (withSchema.ResponseFormat.JsonSchema.Name, withSchema.ResponseFormat.JsonSchema.Description));
        Assert.Equal(schema.RootElement.GetRawText(), withSchema.ResponseFormat.JsonSchema.Schema);
        Assert.Equal("response", unnamed.ResponseFormat.JsonSchema.Name);
    }

    [Fact]
    public void ToRequest_AdditionalProperties_ReachTheGatewaysOwnFields()
    {
        using JsonDocument ids = JsonDocument.Parse("[7, 8]");
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("{}").RootElement, "x"),
            Tools = [AIFunctionFactory.Create(() => 1, "one")],
            AdditionalProperties = new AdditionalPropertiesDictionary
            {
                [InferenceAdditionalProperties.MinP] = 0.05, // a double: converted
                [InferenceAdditionalProperties.RepetitionPenalty] = 1.1f,
                [InferenceAdditionalProperties.MinTokens] = 3L,
                [InferenceAdditionalProperties.StopTokenIds] = ids.RootElement.Clone(),
                [InferenceAdditionalProperties.IgnoreEos] = true,
                [InferenceAdditionalProperties.LogitBias] = new Dictionary<int, float> { [42] = -100f },
                [InferenceAdditionalProperties.Priority] = -1,
                [InferenceAdditionalProperties.User] = "student-7",
                [InferenceAdditionalProperties.SkipSpecialTokens] = false,
                [InferenceAdditionalProperties.NoCache] = true,
                [InferenceAdditionalProperties.AddGenerationPrompt] = false,
                [InferenceAdditionalProperties.Strict] = true,
            },
        };

        Proto.ChatRequest request = Map(options);

        Proto.SamplingOptions s = request.Sampling;
        Assert.Equal(0.05f, s.MinP);
        Assert.Equal(1.1f, s.RepetitionPenalty);
        Assert.Equal(3, s.MinTokens);
        Assert.Equal([7, 8], s.StopTokenIds);
        Assert.True(s.IgnoreEos);
        Assert.Equal(-100f, s.LogitBias[42]);
        Assert.Equal(-1, s.Priority);
        Assert.Equal("student-7", s.User);
        Assert.True(s.HasSkipSpecialTokens);
        Assert.False(s.SkipSpecialTokens);
        Assert.True(s.NoCache);
        Assert.True(request.HasAddGenerationPrompt);
        Assert.False(request.AddGenerationPrompt);
        Assert.True(request.ResponseFormat.JsonSchema.Strict);
        Assert.True(Assert.Single(request.Tools).Strict);
    }

    [Fact]
    public void ToRequest_StructuredOutputExtras_AreResponseFormats()
    {
        Proto.ChatRequest regex = Map(new ChatOptions { AdditionalProperties = new() { [InferenceAdditionalProperties.Regex] = "[0-9]+" } });
        Proto.ChatRequest grammar = Map(new ChatOptions { AdditionalProperties = new() { [InferenceAdditionalProperties.Grammar] = "root ::= \"yes\"" } });
        Proto.ChatRequest choice = Map(new ChatOptions { AdditionalProperties = new() { [InferenceAdditionalProperties.Choice] = new[] { "yes", "no" } } });

        Assert.Equal("[0-9]+", regex.ResponseFormat.Regex);
        Assert.Equal("root ::= \"yes\"", grammar.ResponseFormat.Grammar);
        Assert.Equal(["yes", "no"], choice.ResponseFormat.Choice.Choices);
    }

    [Fact]
    public void ToRequest_TwoResponseFormats_ArgumentExceptionNamingTheExtra()
    {
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.Json, AdditionalProperties = new() { [InferenceAdditionalProperties.Regex] = "a" } };

        ArgumentException ex = Assert.Throws<ArgumentException>(() => Map(options));

        Assert.Contains("'regex'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("top_a", 1)]
    [InlineData("min_p", "high")]
    [InlineData("ignore_eos", 1)]
    [InlineData("strict", true)] // with neither tools nor a JSON schema it would apply to nothing
    public void ToRequest_UnknownOrMistypedExtra_ArgumentExceptionNamingTheKey(string key, object value)
    {
        var options = new ChatOptions { AdditionalProperties = new() { [key] = value } };

        ArgumentException ex = Assert.Throws<ArgumentException>(() => Map(options));

        Assert.Contains($"'{key}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToRequest_WhatTheGatewayCannotCarry_NotSupportedNamingIt()
    {
        NotSupportedException conversation = Assert.Throws<NotSupportedException>(() => Map(new ChatOptions { ConversationId = "c1" }));
        NotSupportedException tool = Assert.Throws<NotSupportedException>(() => Map(new ChatOptions { Tools = [new HostedWebSearchTool()] }));
        NotSupportedException image = Assert.Throws<NotSupportedException>(
            () => Map(null, new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")])));

        Assert.Contains("ConversationId", conversation.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(HostedWebSearchTool), tool.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(DataContent), image.Message, StringComparison.Ordinal);
    }

    private sealed record Forecast(string City, double Celsius);
}

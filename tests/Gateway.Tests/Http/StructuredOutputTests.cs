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
/// Structured outputs end to end on the bundled model at temperature 1 (a small model's free output is rarely
/// JSON): through the official OpenAI SDK, raw HTTP and gRPC, every output parses and validates against its
/// schema with an independent validator (JsonSchema.Net), and finishes with stop. Bad schemas are 400s and the
/// server keeps serving.
/// </summary>
public abstract class StructuredOutputTests(IModelFixture model) : IAsyncLifetime
{
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;

    public static TheoryData<string> Schemas => new()
    {
        """{"type":"object","properties":{"name":{"type":"string","maxLength":16},"age":{"type":"integer","minimum":18,"maximum":99}},"required":["name","age"],"additionalProperties":false}""",
        """{"type":"object","properties":{"city":{"enum":["Seoul","Busan","Incheon"]},"temperatures":{"type":"array","items":{"type":"number","minimum":-30,"maximum":45},"minItems":2,"maxItems":4},"rain":{"type":"boolean"}},"required":["city","temperatures","rain"],"additionalProperties":false}""",
        """{"$defs":{"item":{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{4}$"},"qty":{"type":"integer","minimum":1,"maximum":9}},"required":["sku","qty"],"additionalProperties":false}},"type":"object","properties":{"order":{"type":"string","format":"uuid"},"items":{"type":"array","items":{"$ref":"#/$defs/item"},"minItems":1,"maxItems":2},"note":{"anyOf":[{"type":"string","maxLength":10},{"type":"null"}]}},"required":["order","items","note"],"additionalProperties":false}""",
    };

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private ChatClient Chat() =>
        new(M, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseAddress, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task JsonSchema_EveryOutputAtTemperatureOneValidates(string schemaText)
    {
        JsonSchema schema = JsonSchema.FromText(schemaText);
        for (long seed = 1; seed <= 4; seed++)
        {
            ChatCompletion completion = await Chat().CompleteChatAsync(
                [new UserChatMessage("Answer in JSON.")],
                new ChatCompletionOptions
                {
                    Temperature = 1,
                    Seed = seed,
                    MaxOutputTokenCount = 700,
                    ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("answer", BinaryData.FromString(schemaText), jsonSchemaIsStrict: true),
                }).WaitAsync(TimeSpan.FromSeconds(120));
            string text = completion.Content[0].Text;
            Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
            using JsonDocument doc = JsonDocument.Parse(text);
            Assert.True(schema.Evaluate(doc.RootElement).IsValid, text);
        }
    }

    [Fact]
    public async Task JsonObject_StreamedEqualsNonStreamed_AndAStoppedOutputIsAnObject()
    {
        // Any object: strings are unbounded, so a small model may run to max_tokens inside one (length); a
        // stopped output is always a whole object.
        for (long seed = 1; seed <= 4; seed++)
        {
            var options = new ChatCompletionOptions { Temperature = 1, Seed = seed, MaxOutputTokenCount = 120, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
            List<OpenAI.Chat.ChatMessage> messages = [new UserChatMessage("Give me an object.")];
            ChatCompletion whole = await Chat().CompleteChatAsync(messages, options).WaitAsync(TimeSpan.FromSeconds(120));

            var text = new StringBuilder();
            ChatFinishReason? finish = null;
            await foreach (StreamingChatCompletionUpdate update in Chat().CompleteChatStreamingAsync(messages, options))
            {
                foreach (ChatMessageContentPart part in update.ContentUpdate)
                {
                    text.Append(part.Text);
                }

                finish ??= update.FinishReason;
            }

            Assert.Equal(whole.Content[0].Text, text.ToString());
            Assert.Equal(whole.FinishReason, finish);
            Assert.StartsWith("{", text.ToString(), StringComparison.Ordinal);
            if (finish == ChatFinishReason.Stop)
            {
                using JsonDocument doc = JsonDocument.Parse(text.ToString());
                Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            }
            else
            {
                // Cut by max_tokens: still a valid beginning of a JSON object (the reader throws on anything else).
                Assert.Equal(ChatFinishReason.Length, finish);
                Assert.Equal(120, whole.Usage.OutputTokenCount);
                var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text.ToString()), isFinalBlock: false, state: default);
                while (reader.Read())
                {
                }
            }
        }
    }

    [Theory]
    [InlineData("""{"regex":"[0-9]{3}-[0-9]{4}"}""", "^[0-9]{3}-[0-9]{4}$")]
    [InlineData("""{"choice":["positive","negative","neutral"]}""", "^(positive|negative|neutral)$")]
    [InlineData("""{"grammar":"root ::= \"SELECT \" col (\", \" col)* \" FROM users\"\ncol ::= \"id\" | \"name\" | \"email\""}""", "^SELECT (id|name|email)(, (id|name|email))* FROM users$")]
    public async Task Completions_VllmStructuredOutputs_MatchExactly(string structured, string pattern)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            JsonElement r = await PostAsync("/v1/completions", $$"""{"model":"{{M}}","prompt":"Answer:","max_tokens":200,"temperature":1,"seed":{{seed}},"structured_outputs":{{structured}}}""");
            JsonElement choice = r.GetProperty("choices")[0];
            Assert.Matches(pattern, choice.GetProperty("text").GetString()!);
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task Grpc_ResponseFormatJsonSchema_Validates()
    {
        const string SchemaText = """{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":0,"maximum":9}},"required":["ok","n"]}""";
        using GrpcChannel channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!);
        var client = new InferenceService.InferenceServiceClient(channel);
        var request = new ChatRequest
        {
            Model = M,
            Sampling = new SamplingOptions { MaxTokens = 300, Temperature = 1, Seed = 4 },
            ResponseFormat = new ResponseFormat { JsonSchema = new JsonSchemaFormat { Name = "r", Schema = SchemaText } },
        };
        request.Messages.Add(new Inference.Gateway.Grpc.ChatMessage { Role = "user", Content = "Status?" });
        var text = new StringBuilder();
        Inference.Gateway.Grpc.FinishReason finish = Inference.Gateway.Grpc.FinishReason.Unspecified;
        using AsyncServerStreamingCall<CompletionChunk> call = client.Chat(request, deadline: DateTime.UtcNow.AddSeconds(60));
        await foreach (CompletionChunk chunk in call.ResponseStream.ReadAllAsync())
        {
            foreach (ChoiceDelta delta in chunk.Choices)
            {
                text.Append(delta.Text);
                if (delta.FinishReason != Inference.Gateway.Grpc.FinishReason.Unspecified)
                {
                    finish = delta.FinishReason;
                }
            }
        }

        using JsonDocument doc = JsonDocument.Parse(text.ToString());
        Assert.True(JsonSchema.FromText(SchemaText).Evaluate(doc.RootElement).IsValid, text.ToString());
        Assert.Equal(Inference.Gateway.Grpc.FinishReason.Stop, finish);
    }

    [Fact]
    public async Task InvalidSchema_Is400NamingTheKeyword_AndTheServerKeepsServing()
    {
        using HttpResponseMessage bad = await SendAsync("/v1/chat/completions", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{\"type\":\"object\",\"properties\":{\"when\":{\"type\":\"string\",\"format\":\"email\"}}}}}}");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        JsonElement error = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("response_format.json_schema.schema", error.GetProperty("param").GetString());
        Assert.Contains("schema.properties.when.format: format 'email' is not supported", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        ClientResultException sdk = await Assert.ThrowsAsync<ClientResultException>(() => Chat().CompleteChatAsync(
            [new UserChatMessage("x")],
            new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("s", BinaryData.FromString("""{"type":"array","uniqueItems":true}""")) }));
        Assert.Equal(400, sdk.Status);
        Assert.Contains("uniqueItems", sdk.Message, StringComparison.Ordinal);

        JsonElement ok = await PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"Hi","max_tokens":4,"response_format":{"type":"json_object"}}""");
        Assert.StartsWith("{", ok.GetProperty("choices")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponseCache_KeysOnTheConstraint()
    {
        string Body(string format) => $$"""{"model":"{{M}}","prompt":"The city","max_tokens":20,"temperature":0,"response_format":{{format}}}""";
        JsonElement plain = await PostAsync("/v1/completions", Body("""{"type":"text"}"""), noCache: false);
        JsonElement json = await PostAsync("/v1/completions", Body("""{"type":"json_object"}"""), noCache: false);
        string jsonText = json.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.NotEqual(plain.GetProperty("choices")[0].GetProperty("text").GetString(), jsonText);
        Assert.StartsWith("{", jsonText, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string json, bool noCache = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (noCache)
        {
            request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        }

        return await _gateway.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(120));
    }

    private async Task<JsonElement> PostAsync(string path, string json, bool noCache = true)
    {
        using HttpResponseMessage response = await SendAsync(path, json, noCache);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

[Collection(ModelCollection.Name)]
public sealed class StructuredOutputTestsInProcess(ModelFixture model) : StructuredOutputTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class StructuredOutputTestsOverGrpcWorker(GrpcModelFixture model) : StructuredOutputTests(model);

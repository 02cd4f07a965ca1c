using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Api;
using Inference.Gateway.Grpc;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Every OpenAI and vLLM parameter is implemented or refused by name, never accepted and ignored: each refused
/// parameter gets a 400 whose param is exactly that name, on each endpoint; the values that ask for exactly what the
/// server does (tools [], store false, ...) are served; gRPC refuses the same way; the README's table lists them all.
/// </summary>
[Collection(ModelCollection.Name)]
public sealed partial class ParameterTests(ModelFixture model) : IAsyncLifetime
{
    private const string Chat = "/v1/chat/completions";
    private const string Cmpl = "/v1/completions";
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    // Parameters (and a value for each) that this server does not implement, on both endpoints.
    private static readonly (string Name, string Value)[] RefusedOnBoth =
    [
        ("prompt_cache_key", "\"k\""),
        ("include_stop_str_in_output", "true"),
        ("use_beam_search", "true"),
        ("spaces_between_special_tokens", "false"),
        ("length_penalty", "1.0"),
        ("prompt_logprobs", "1"),
        ("truncate_prompt_tokens", "5"),
        ("allowed_token_ids", "[1,2]"),
        ("bad_words", """["x"]"""),
        ("logits_processors", "[]"),
        ("guided_decoding_backend", "\"xgrammar\""),
        ("guided_whitespace_pattern", "\" \""),
        ("return_tokens_as_token_ids", "true"),
        ("return_token_ids", "true"),
        ("request_id", "\"r1\""),
        ("cache_salt", "\"s\""),
        ("kv_transfer_params", "{}"),
        ("vllm_xargs", "{}"),
        ("mm_processor_kwargs", "{}"),
    ];

    private static readonly (string Name, string Value)[] RefusedOnChat =
    [
        ("functions", """[{"name":"f"}]"""),
        ("function_call", "\"auto\""),
        ("store", "true"),
        ("metadata", """{"a":"b"}"""),
        ("modalities", """["text","audio"]"""),
        ("service_tier", "\"flex\""),
        ("audio", """{"voice":"alloy","format":"mp3"}"""),
        ("prediction", """{"type":"content","content":"x"}"""),
        ("reasoning_effort", "\"low\""),
        ("verbosity", "\"low\""),
        ("web_search_options", "{}"),
        ("add_special_tokens", "true"),
        ("continue_final_message", "true"),
        ("echo", "true"),
        ("chat_template_kwargs", """{"enable_thinking":false}"""),
        ("chat_template", "\"{{ messages }}\""),
        ("documents", """[{"title":"a","text":"b"}]"""),
    ];

    private static readonly (string Name, string Value)[] RefusedOnCompletions =
    [
        ("add_special_tokens", "false"),
        ("prompt_embeds", "\"AAAA\""),
        ("suffix", "\"end\""),
        ("best_of", "3"),
    ];

    public static TheoryData<string, string, string, string> Refused()
    {
        var d = new TheoryData<string, string, string, string>(); // path, body, param, code
        foreach ((string name, string value) in RefusedOnBoth)
        {
            d.Add(Chat, ChatBody($",\"{name}\":{value}"), name, "unsupported_parameter");
            d.Add(Cmpl, CmplBody($",\"{name}\":{value}"), name, "unsupported_parameter");
        }

        foreach ((string name, string value) in RefusedOnChat)
        {
            d.Add(Chat, ChatBody($",\"{name}\":{value}"), name, "unsupported_parameter");
        }

        foreach ((string name, string value) in RefusedOnCompletions)
        {
            d.Add(Cmpl, CmplBody($",\"{name}\":{value}"), name, "unsupported_parameter");
        }

        // Tools: a bad definition or choice names the field at fault.
        const string F = """{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}}""";
        d.Add(Chat, ChatBody(""","tool_choice":"required" """), "tool_choice", "invalid_value");
        d.Add(Chat, ChatBody(""","tools":[],"tool_choice":"auto" """), "tool_choice", "invalid_value");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"tool_choice":"sometimes" """), "tool_choice", "invalid_value");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"tool_choice":{"type":"function","function":{"name":"g"}}"""), "tool_choice.function.name", "invalid_value");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"tool_choice":{"type":"function"}"""), "tool_choice.function", "missing_required_parameter");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"parallel_tool_calls":"yes" """), "parallel_tool_calls", "invalid_type");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}},{{{F}}}]"""), "tools[1].function.name", "invalid_value");
        d.Add(Chat, ChatBody(""","tools":{"type":"function"}"""), "tools", "invalid_type");
        d.Add(Chat, ChatBody(""","tools":[{"type":"retrieval"}]"""), "tools[0].type", "invalid_value");
        d.Add(Chat, ChatBody(""","tools":[{"type":"function"}]"""), "tools[0].function", "missing_required_parameter");
        d.Add(Chat, ChatBody(""","tools":[{"type":"function","function":{"name":"f","extra":1}}]"""), "tools[0].function.extra", "unknown_parameter");
        d.Add(Chat, ChatBody(""","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"array"}}}]"""), "tools[0].function.parameters", "invalid_value");
        d.Add(Chat, ChatBody(""","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer","multipleOf":3}}}}}]"""), "tools[0].function.parameters", "invalid_schema");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"tool_choice":"required","response_format":{"type":"json_object"}"""), "tool_choice", "invalid_value");
        d.Add(Chat, ChatBody($$$""","tools":[{{{F}}}],"tool_choice":"required","n":2"""), "n", "invalid_value");
        // Output constraints: a bad one names the field at fault.
        foreach (string path in new[] { Chat, Cmpl })
        {
            d.Add(path, Body(path, ""","response_format":{"type":"text","extra":1}"""), "response_format.extra", "unknown_parameter");
            d.Add(path, Body(path, ""","response_format":{"type":"xml"}"""), "response_format.type", "invalid_value");
            d.Add(path, Body(path, ""","response_format":{"type":"json_schema"}"""), "response_format.json_schema", "missing_required_parameter");
            d.Add(path, Body(path, ""","response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{}}}"""), "response_format.json_schema.name", "invalid_value");
            d.Add(path, Body(path, ""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"integer","multipleOf":2}}}"""), "response_format.json_schema.schema", "invalid_schema");
            d.Add(path, Body(path, ""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$ref":"#"}}}"""), "response_format.json_schema.schema", "invalid_schema");
            d.Add(path, Body(path, ""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{},"extra":1}}"""), "response_format.json_schema.extra", "unknown_parameter");
            d.Add(path, Body(path, ""","structured_outputs":{"regex":"(a"}"""), "structured_outputs.regex", "invalid_schema");
            d.Add(path, Body(path, ""","structured_outputs":{"grammar":"root ::= missing"}"""), "structured_outputs.grammar", "invalid_schema");
            d.Add(path, Body(path, ""","structured_outputs":{"choice":[]}"""), "structured_outputs.choice", "invalid_value");
            d.Add(path, Body(path, ""","structured_outputs":{"regex":"a","choice":["a"]}"""), "structured_outputs.choice", "invalid_value");
            d.Add(path, Body(path, ""","structured_outputs":{"whitespace_pattern":" "}"""), "structured_outputs.whitespace_pattern", "unsupported_parameter");
            d.Add(path, Body(path, ""","structured_outputs":{}"""), "structured_outputs", "invalid_value");
            d.Add(path, Body(path, ""","response_format":{"type":"json_object"},"guided_regex":"a+" """), "guided_regex", "invalid_value");
        }

        // Fields of the other endpoint, and names nobody defines: unrecognized, by name.
        foreach (string path in new[] { Chat, Cmpl })
        {
            d.Add(path, Body(path, ""","temprature":0.5"""), "temprature", "unknown_parameter");
            d.Add(path, Body(path, ""","stream":true,"stream_options":{"include_obfuscation":true}"""), "stream_options.include_obfuscation", "unsupported_parameter");
            d.Add(path, Body(path, ""","stream":true,"stream_options":{"continuous_usage_stats":true}"""), "stream_options.continuous_usage_stats", "unsupported_parameter");
            d.Add(path, Body(path, ""","stream":true,"stream_options":{"include_usage":true,"extra":1}"""), "stream_options.extra", "unknown_parameter");
            d.Add(path, Body(path, ""","max_completion_tokens":4"""), "max_completion_tokens", "invalid_value"); // max_tokens is 1
            d.Add(path, Body(path, ""","user":"a","safety_identifier":"b" """), "safety_identifier", "invalid_value");
            d.Add(path, Body(path, $$$""","user":"{{{new string('u', 257)}}}" """), "user", "invalid_value");
        }

        d.Add(Chat, ChatBody(""","best_of":2"""), "best_of", "unknown_parameter");
        d.Add(Chat, ChatBody(""","suffix":"x" """), "suffix", "unknown_parameter");
        d.Add(Chat, ChatBody(""","prompt":"x" """), "prompt", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","tools":[]"""), "tools", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","tool_choice":"none" """), "tool_choice", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","top_logprobs":2"""), "top_logprobs", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","messages":[]"""), "messages", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","add_generation_prompt":true"""), "add_generation_prompt", "unknown_parameter");
        d.Add(Cmpl, CmplBody(""","echo":true,"logprobs":1"""), "echo", "unsupported_parameter");

        // Message fields the chat template would drop.
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi","name":7}]}""", "messages[0].name", "invalid_type");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x","refusal":"no"}]}""", "messages[1].refusal", "unsupported_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"assistant","content":"x","tool_calls":[{"id":"1"}]},{"role":"user","content":"hi"}]}""", "messages[0].tool_calls[0].function", "missing_required_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{bad"}}]},{"role":"user","content":"hi"}]}""", "messages[0].tool_calls[0].function.arguments", "invalid_value");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi","tool_call_id":"1"}]}""", "messages[0].tool_call_id", "unsupported_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]}""", "messages[1].tool_call_id", "missing_required_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"},{"role":"user","content":"x","tool_calls":[{"id":"1"}]}]}""", "messages[1].tool_calls", "unsupported_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"function","content":"x","name":"f"}]}""", "messages[0].role", "unsupported_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi","mood":"ok"}]}""", "messages[0].mood", "unknown_parameter");
        d.Add(Chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}""", "messages[0].content[0].cache_control", "unknown_parameter");

        // /tokenize and /detokenize take their own fields only.
        d.Add("/tokenize", $$$"""{"model":"{{{M}}}","prompt":"hi","temperature":1}""", "temperature", "unknown_parameter");
        d.Add("/tokenize", $$$"""{"model":"{{{M}}}","prompt":"hi","add_generation_prompt":true}""", "add_generation_prompt", "invalid_value");
        d.Add("/tokenize", $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"}],"add_special_tokens":true}""", "add_special_tokens", "unsupported_parameter");
        d.Add("/detokenize", $$$"""{"model":"{{{M}}}","tokens":[1],"skip_special_tokens":false}""", "skip_special_tokens", "unknown_parameter");
        return d;
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Parameter_NotImplemented_Is400NamingExactlyIt(string path, string body, string param, string code)
    {
        using HttpResponseMessage response = await _gateway.PostAsync(path, body);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {text}");
        JsonElement error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    public static TheoryData<string, string> AcceptedAsWhatWeDo() => new()
    {
        { Chat, ChatBody(""","tools":[],"tool_choice":"none","parallel_tool_calls":false,"functions":[],"function_call":"none" """) },
        { Chat, ChatBody(""","store":false,"metadata":{},"modalities":["text"],"service_tier":"auto","response_format":{"type":"text"}""") },
        { Chat, ChatBody(""","echo":false,"add_special_tokens":false,"continue_final_message":false,"chat_template_kwargs":{},"add_generation_prompt":true""") },
        { Chat, ChatBody(""","n":1,"stream":false,"include_stop_str_in_output":false,"use_beam_search":false,"service_tier":"default" """) },
        { Chat, ChatBody(""","tools":null,"audio":null,"reasoning_effort":null,"guided_json":null,"made_up":null""") },
        { Chat, ChatBody(""","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false,"continuous_usage_stats":false}""") },
        { Chat, $$$"""{"model":"{{{M}}}","max_tokens":1,"messages":[{"role":"user","content":"hi","name":null},{"role":"assistant","content":"x","refusal":null,"tool_calls":[],"annotations":[]},{"role":"user","content":"more"}]}""" },
        { Cmpl, CmplBody(""","response_format":{"type":"text"},"add_special_tokens":true,"suffix":"","best_of":1,"n":1""") },
        { Cmpl, CmplBody(""","best_of":2.0,"n":2""") },
        { Cmpl, CmplBody(""","best_of":2,"n":2.0""") },
        { Cmpl, CmplBody(""","max_completion_tokens":1,"user":"u1","safety_identifier":"u1","echo":false,"stream":false""") },
        { "/tokenize", $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"}],"add_special_tokens":false,"add_generation_prompt":true}""" },
        { "/tokenize", $$$"""{"model":"{{{M}}}","prompt":"hi","add_special_tokens":false}""" },
    };

    [Theory]
    [MemberData(nameof(AcceptedAsWhatWeDo))]
    public async Task Parameter_AtTheValueThatMeansWhatWeDo_IsServed(string path, string body)
    {
        using HttpResponseMessage response = await _gateway.PostAsync(path, body);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task BadN_WithBestOf_IsRefusedNamingN()
    {
        using HttpResponseMessage response = await _gateway.PostAsync(Cmpl, CmplBody(""","n":"x","best_of":2"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("n", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task DuplicateKey_Is400_NotLastOneWins()
    {
        using HttpResponseMessage response = await _gateway.PostAsync(Cmpl, $$$"""{"model":"{{{M}}}","prompt":"hi","max_tokens":1,"max_tokens":9}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_json", error.GetProperty("code").GetString());
        Assert.Contains("max_tokens", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SafetyIdentifierOrUser_IsWrittenToTheUsageRecord()
    {
        using HttpResponseMessage a = await _gateway.PostAsync(Cmpl, CmplBody(""","safety_identifier":"end-user-42" """));
        using HttpResponseMessage b = await _gateway.PostAsync(Chat, ChatBody(""","user":"end-user-7" """));
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);

        List<JsonElement> records = await _gateway.UsageRecordsAsync();
        Assert.Contains(records, r => r.TryGetProperty("user", out JsonElement u) && u.GetString() == "end-user-42");
        Assert.Contains(records, r => r.TryGetProperty("user", out JsonElement u) && u.GetString() == "end-user-7");
    }

    [Fact]
    public void EveryKnownParameterNotImplemented_HasARefusalCase()
    {
        var chat = RefusedOnBoth.Concat(RefusedOnChat).Select(p => p.Name).ToHashSet();
        var cmpl = RefusedOnBoth.Concat(RefusedOnCompletions).Select(p => p.Name).ToHashSet();

        Assert.Empty(RequestFields.Known(ApiKind.Chat).Where(f => f.Support != RequestFields.Support.Implemented && !chat.Contains(f.Name)).Select(f => f.Name));
        Assert.Empty(RequestFields.Known(ApiKind.Completion).Where(f => f.Support != RequestFields.Support.Implemented && !cmpl.Contains(f.Name)).Select(f => f.Name));
        Assert.All(chat, n => Assert.NotEqual(RequestFields.Support.Implemented, RequestFields.SupportOf(ApiKind.Chat, n)));
        Assert.All(cmpl, n => Assert.NotEqual(RequestFields.Support.Implemented, RequestFields.SupportOf(ApiKind.Completion, n)));
    }

    [Fact]
    public void Readme_ParameterTable_ListsEveryKnownParameterWithItsStatus()
    {
        string readme = File.ReadAllText(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(RepoFiles.BundledModel()))!, "README.md"));
        var rows = new Dictionary<string, string[]>();
        foreach (Match m in TableRow().Matches(readme))
        {
            rows[m.Groups[1].Value] = m.Value.Split('|', StringSplitOptions.TrimEntries)[1..^1];
        }

        foreach (ApiKind kind in new[] { ApiKind.Completion, ApiKind.Chat })
        {
            int column = kind == ApiKind.Completion ? 1 : 2;
            foreach ((string name, RequestFields.Support support, _) in RequestFields.Known(kind))
            {
                Assert.True(rows.TryGetValue(name, out string[]? row), $"README's 'OpenAI parameters' table has no row for {name}");
                string cell = row![column];
                string expected = support switch
                {
                    RequestFields.Support.Implemented => "yes",
                    RequestFields.Support.DefaultOnly => "only ",
                    _ => "refused",
                };
                Assert.True(cell.StartsWith(expected, StringComparison.Ordinal), $"{name} on {kind}: README says '{cell}', the server: {support}");
            }
        }
    }

    public static TheoryData<string, string> GrpcRefused() => new()
    {
        { "echo_logprobs", "echo" },
        { "tool_role", "messages[0].tool_call_id" },
        { "tool_unknown_choice", "tool_choice.function" },
        { "tool_bad_schema", "tools[0].parameters" },
        { "long_user", "sampling.user" },
        { "chat_logprobs", "sampling.logprobs" },
        { "temperature", "sampling.temperature" },
        { "token_ids", "token_ids" },
        { "context", "sampling.max_tokens" },
        { "unknown_top", "#99" },
        { "unknown_sampling", "sampling.#99" },
        { "unknown_message", "messages[0].#99" },
        { "bad_schema", "response_format.json_schema.schema" },
        { "schema_not_json", "response_format.json_schema.schema" },
        { "bad_regex", "response_format.regex" },
        { "bad_grammar", "response_format.grammar" },
        { "empty_choice", "response_format.choice.choices" },
    };

    [Theory]
    [MemberData(nameof(GrpcRefused))]
    public async Task Grpc_ProtoFieldNotSupportedAsGiven_IsInvalidArgumentNamingIt(string what, string param)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(_gateway.Host.GrpcAddress!);
        var client = new InferenceService.InferenceServiceClient(channel);
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30));
        var complete = new CompleteRequest { Model = M, Text = "hi", Sampling = new SamplingOptions { MaxTokens = 2 } };
        var chat = new ChatRequest { Model = M, Sampling = new SamplingOptions { MaxTokens = 2 } };
        chat.Messages.Add(new Inference.Gateway.Grpc.ChatMessage { Role = "user", Content = "hi" });
        bool isChat = false;
        switch (what)
        {
            case "echo_logprobs": complete.Echo = true; complete.Sampling.Logprobs = 1; break;
            case "tool_role": chat.Messages[0].Role = "tool"; isChat = true; break;
            case "tool_unknown_choice":
                chat.Tools.Add(new Tool { Name = "f" });
                chat.ToolChoice = new ToolChoice { Function = "g" };
                isChat = true;
                break;
            case "tool_bad_schema": chat.Tools.Add(new Tool { Name = "f", Parameters = """{"type":"object","properties":{"a":{"type":"string","format":"email"}}}""" }); isChat = true; break;
            case "long_user": complete.Sampling.User = new string('u', 300); break;
            case "chat_logprobs": chat.Sampling.Logprobs = 50; isChat = true; break;
            case "temperature": complete.Sampling.Temperature = 3; break;
            case "token_ids": complete.TokenIds = new TokenIds { Ids = { 1, 99_999_999 } }; break;
            case "context": complete.Sampling.MaxTokens = 100_000; break;
            case "unknown_top": complete = WithUnknownField(complete, CompleteRequest.Parser); break;
            case "unknown_sampling": complete.Sampling = WithUnknownField(complete.Sampling, SamplingOptions.Parser); break;
            case "unknown_message": chat.Messages[0] = WithUnknownField(chat.Messages[0], Inference.Gateway.Grpc.ChatMessage.Parser); isChat = true; break;
            case "bad_schema": chat.ResponseFormat = new ResponseFormat { JsonSchema = new JsonSchemaFormat { Name = "x", Schema = """{"type":"string","format":"email"}""" } }; isChat = true; break;
            case "schema_not_json": complete.ResponseFormat = new ResponseFormat { JsonSchema = new JsonSchemaFormat { Name = "x", Schema = "{not json" } }; break;
            case "bad_regex": complete.ResponseFormat = new ResponseFormat { Regex = "(?=x)" }; break;
            case "bad_grammar": complete.ResponseFormat = new ResponseFormat { Grammar = "root ::= root" }; break;
            case "empty_choice": complete.ResponseFormat = new ResponseFormat { Choice = new ChoiceFormat() }; break;
        }

        RpcException ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using AsyncServerStreamingCall<CompletionChunk> call = isChat ? client.Chat(chat, options) : client.Complete(complete, options);
            await foreach (CompletionChunk unused in call.ResponseStream.ReadAllAsync())
            {
            }
        });

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Google.Rpc.BadRequest? bad = ex.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>();
        Assert.Equal(param, Assert.Single(bad!.FieldViolations).Field);
    }

    // The message as a client built from a newer inference.proto would send it: with a field 99 this server lacks.
    private static T WithUnknownField<T>(T message, Google.Protobuf.MessageParser<T> parser)
        where T : Google.Protobuf.IMessage<T>
    {
        using var buffer = new MemoryStream();
        var output = new Google.Protobuf.CodedOutputStream(buffer);
        message.WriteTo(output);
        output.WriteTag(99, Google.Protobuf.WireFormat.WireType.Varint);
        output.WriteInt32(1);
        output.Flush();
        return parser.ParseFrom(buffer.ToArray());
    }

    private static string Body(string path, string extra) => path == Chat ? ChatBody(extra) : CmplBody(extra);

    private static string ChatBody(string extra) => $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"hi"}],"max_tokens":1{{{extra}}}}""";

    private static string CmplBody(string extra) => $$$"""{"model":"{{{M}}}","prompt":"hi","max_tokens":1{{{extra}}}}""";

    // A row of the README table: | `name` | completions | chat | gRPC | notes |
    [GeneratedRegex(@"^\| `([a-z_]+)` \|.*\|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();
}

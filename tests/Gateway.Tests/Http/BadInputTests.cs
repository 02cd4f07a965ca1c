using System.Net;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>Bad input over HTTP: each case gets the right status and an OpenAI error object, and the next good request is served.</summary>
public abstract class BadInputTests(IModelFixture model) : IAsyncLifetime
{
    private const string Key = "sk-test-bad-input-0123456789";
    private const string M = ModelFixture.ModelName;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], $$$"""{"keys":[{"key":"{{{Key}}}","tenant":"bad","tier":"enterprise"}]}""");

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public static TheoryData<string, string, string, HttpStatusCode, string?, string?> Cases()
    {
        const string chat = "/v1/chat/completions";
        const string cmpl = "/v1/completions";
        const string msgs = """ "messages":[{"role":"user","content":"hi"}] """;
        string c(string extra) => $$$"""{"model":"{{{M}}}",{{{msgs}}}{{{extra}}}}""";
        string p(string extra) => $$$"""{"model":"{{{M}}}","prompt":"hi"{{{extra}}}}""";
        var d = new TheoryData<string, string, string, HttpStatusCode, string?, string?>
        {
            // path, body, content type, status, code, param
            { chat, "{not json", "application/json", HttpStatusCode.BadRequest, "invalid_json", null },
            { chat, "[1,2,3]", "application/json", HttpStatusCode.BadRequest, "invalid_json", null },
            { chat, "", "application/json", HttpStatusCode.BadRequest, "invalid_json", null },
            { chat, c(""","temperature":NaN"""), "application/json", HttpStatusCode.BadRequest, "invalid_json", null },
            { chat, c(""","temperature":Infinity"""), "application/json", HttpStatusCode.BadRequest, "invalid_json", null },
            { chat, c(""), "text/plain", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", null },
            { chat, c(""), "application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", null },
            { chat, $$$"""{{{{msgs}}}}""", "application/json", HttpStatusCode.BadRequest, "missing_required_parameter", "model" },
            { chat, $$$"""{"model":"nope",{{{msgs}}}}""", "application/json", HttpStatusCode.NotFound, "model_not_found", "model" },
            { chat, $$$"""{"model":42,{{{msgs}}}}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "model" },
            { chat, $$$"""{"model":"{{{M}}}"}""", "application/json", HttpStatusCode.BadRequest, "missing_required_parameter", "messages" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[]}""", "application/json", HttpStatusCode.BadRequest, "invalid_value", "messages" },
            { chat, $$$"""{"model":"{{{M}}}","messages":"hi"}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "messages" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"wizard","content":"x"}]}""", "application/json", HttpStatusCode.BadRequest, "invalid_value", "messages[0].role" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user"}]}""", "application/json", HttpStatusCode.BadRequest, "missing_required_parameter", "messages[0].content" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":5}]}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "messages[0].content" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":"\ud800"}]}""", "application/json", HttpStatusCode.BadRequest, "invalid_unicode", "messages[0].content" },
            { chat, $$$"""{"model":"{{{M}}}","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "application/json", HttpStatusCode.BadRequest, "unsupported_parameter", "messages[0].content[0].type" },
            { chat, c(""","temperature":2.5"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "temperature" },
            { chat, c(""","temperature":-0.1"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "temperature" },
            { chat, c(""","temperature":"hot" """), "application/json", HttpStatusCode.BadRequest, "invalid_type", "temperature" },
            { chat, c(""","top_p":0"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "top_p" },
            { chat, c(""","top_p":1.5"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "top_p" },
            { chat, c(""","top_k":-2"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "top_k" },
            { chat, c(""","min_p":1.5"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "min_p" },
            { chat, c(""","presence_penalty":3"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "presence_penalty" },
            { chat, c(""","frequency_penalty":-2.5"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "frequency_penalty" },
            { chat, c(""","repetition_penalty":0"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "repetition_penalty" },
            { chat, c(""","max_tokens":0"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "max_tokens" },
            { chat, c(""","max_tokens":1.5"""), "application/json", HttpStatusCode.BadRequest, "invalid_type", "max_tokens" },
            { chat, c(""","max_completion_tokens":-1"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "max_completion_tokens" },
            { chat, c(""","max_tokens":100000"""), "application/json", HttpStatusCode.BadRequest, "context_length_exceeded", "messages" },
            { chat, c(""","n":0"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "n" },
            { chat, c(""","n":1000"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "n" },
            { chat, c(""","stop":5"""), "application/json", HttpStatusCode.BadRequest, "invalid_type", "stop" },
            { chat, c(""","stop":[""]"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "stop" },
            { chat, c(""","stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "stop" },
            { chat, c($$$""","stop":"{{{new string('x', 300)}}}" """), "application/json", HttpStatusCode.BadRequest, "invalid_value", "stop" },
            { chat, c(""","logprobs":true,"top_logprobs":50"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "top_logprobs" },
            { chat, c(""","top_logprobs":2"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "top_logprobs" },
            { chat, c(""","logit_bias":{"abc":1}"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "logit_bias" },
            { chat, c(""","logit_bias":{"5":500}"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "logit_bias" },
            { chat, c(""","logit_bias":{"99999999":1}"""), "application/json", HttpStatusCode.BadRequest, "invalid_token_id", "logit_bias" },
            { chat, c(""","seed":"x" """), "application/json", HttpStatusCode.BadRequest, "invalid_type", "seed" },
            { chat, c(""","stream":"yes" """), "application/json", HttpStatusCode.BadRequest, "invalid_type", "stream" },
            { chat, c(""","stream_options":{"include_usage":true}"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "stream_options" },
            { chat, c(""","tools":[{"type":"function","function":{"name":"no spaces"}}]"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "tools[0].function.name" },
            { chat, c(""","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string","format":"email"}}}}}]"""), "application/json", HttpStatusCode.BadRequest, "invalid_schema", "tools[0].function.parameters" },
            { chat, c(""","response_format":{"type":"xml"}"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "response_format.type" },
            { chat, c(""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","format":"email"}}}"""), "application/json", HttpStatusCode.BadRequest, "invalid_schema", "response_format.json_schema.schema" },
            { chat, c(""","min_tokens":10,"max_tokens":5"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "min_tokens" },
            { chat, c(""","stop_token_ids":[99999999]"""), "application/json", HttpStatusCode.BadRequest, "invalid_token_id", "stop_token_ids" },
            { chat, c(""","priority":"high" """), "application/json", HttpStatusCode.BadRequest, "invalid_type", "priority" },
            { cmpl, $$$"""{"model":"{{{M}}}"}""", "application/json", HttpStatusCode.BadRequest, "missing_required_parameter", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":""}""", "application/json", HttpStatusCode.BadRequest, "invalid_value", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":[]}""", "application/json", HttpStatusCode.BadRequest, "invalid_value", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":{"a":1}}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":[1,2,99999999]}""", "application/json", HttpStatusCode.BadRequest, "invalid_token_id", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":[1,-2]}""", "application/json", HttpStatusCode.BadRequest, "invalid_token_id", "prompt" },
            { cmpl, $$$"""{"model":"{{{M}}}","prompt":["ok",7]}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "prompt[1]" },
            { cmpl, p(""","logprobs":21"""), "application/json", HttpStatusCode.BadRequest, "invalid_value", "logprobs" },
            { cmpl, p(""","echo":"no" """), "application/json", HttpStatusCode.BadRequest, "invalid_type", "echo" },
            { cmpl, p(""","max_tokens":5000"""), "application/json", HttpStatusCode.BadRequest, "context_length_exceeded", "max_tokens" },
            { cmpl, p(""","suffix":"end" """), "application/json", HttpStatusCode.BadRequest, "unsupported_parameter", "suffix" },
            { "/tokenize", $$$"""{"model":"{{{M}}}","prompt":3}""", "application/json", HttpStatusCode.BadRequest, "invalid_type", "prompt" },
            { "/detokenize", $$$"""{"model":"{{{M}}}","tokens":[-1]}""", "application/json", HttpStatusCode.BadRequest, "invalid_token_id", "tokens" },
            { "/v1/nothing-here", "{}", "application/json", HttpStatusCode.NotFound, "unknown_url", null },
        };
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsStatusAndErrorObject_ThenGoodRequestServed(string path, string body, string contentType, HttpStatusCode status, string? code, string? param)
    {
        using HttpResponseMessage bad = await _gateway.PostAsync(path, body, Key, contentType);

        Assert.Equal(status, bad.StatusCode);
        Assert.StartsWith("application/json", bad.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
        JsonElement error = doc.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());

        using HttpResponseMessage good = await _gateway.PostAsync(
            "/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"The jury","max_tokens":2,"temperature":0}""", Key);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task MissingOrWrongKey_Is401WithInvalidApiKey_AndKeyNotEchoed()
    {
        using HttpResponseMessage none = await _gateway.PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"x"}""");
        using HttpResponseMessage wrong = await _gateway.PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"x"}""", "sk-wrong-key-that-is-secret-123456");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        string body = await wrong.Content.ReadAsStringAsync();
        Assert.Contains("invalid_api_key", body, StringComparison.Ordinal);
        Assert.DoesNotContain("that-is-secret", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyOverLimit_Is413()
    {
        string huge = $$$"""{"model":"{{{M}}}","prompt":"{{{new string('a', 5 * 1024 * 1024)}}}"}""";
        using HttpResponseMessage response = await _gateway.PostAsync("/v1/completions", huge, Key);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("request_too_large", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContextOverflow_MessageNamesBothNumbers()
    {
        using HttpResponseMessage response = await _gateway.PostAsync("/v1/completions", $$$"""{"model":"{{{M}}}","prompt":"hello world","max_tokens":5000}""", Key);
        string message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()!;

        Assert.Contains("5000", message, StringComparison.Ordinal);
        Assert.Contains($"{model.Host.Info.MaxModelLength}", message, StringComparison.Ordinal);
    }
}

[Collection(ModelCollection.Name)]
public sealed class BadInputTestsInProcess(ModelFixture model) : BadInputTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class BadInputTestsOverGrpcWorker(GrpcModelFixture model) : BadInputTests(model);

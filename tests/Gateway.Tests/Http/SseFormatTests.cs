using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>The SSE byte format, read from a raw socket: data: {json}\n\n events, the same id throughout, [DONE] last.</summary>
public abstract class SseFormatTests(IModelFixture model) : IAsyncLifetime
{
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(string Head, string Body)> RawPostAsync(string path, string json)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _gateway.BaseAddress.Port).WaitAsync(TimeSpan.FromSeconds(10));
        NetworkStream stream = client.GetStream();
        byte[] body = Encoding.UTF8.GetBytes(json);
        string head = $"POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        using var all = new MemoryStream();
        await stream.CopyToAsync(all).WaitAsync(TimeSpan.FromSeconds(60));
        string response = Encoding.UTF8.GetString(all.ToArray());
        int split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (response[..split], response[(split + 4)..]); // HTTP/1.0: the body is the raw bytes until close
    }

    [Fact]
    public async Task ChatStream_BytesAreDataEventsThenDone()
    {
        (string head, string body) = await RawPostAsync(
            "/v1/chat/completions",
            $$$"""{"model":"{{{ModelFixture.ModelName}}}","messages":[{"role":"user","content":"Hello there"}],"max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""");

        Assert.Matches(@"^HTTP/1\.[01] 200", head);
        Assert.Contains("Content-Type: text/event-stream", head, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        string[] events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e, StringComparison.Ordinal));
        Assert.DoesNotContain("\r", body, StringComparison.Ordinal);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        string id = chunks[0].GetProperty("id").GetString()!;
        Assert.All(chunks, c => Assert.Equal(id, c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());

        // Exactly one finish_reason, on the last choice chunk; then the usage chunk with "choices": [].
        var withChoices = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).ToList();
        Assert.Single(withChoices, c => c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        Assert.Equal(JsonValueKind.String, withChoices[^1].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        JsonElement last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.True(last.GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 1);
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
    }

    [Fact]
    public async Task CompletionStream_WithoutIncludeUsage_HasNoUsageChunk()
    {
        (string head, string body) = await RawPostAsync(
            "/v1/completions",
            $$$"""{"model":"{{{ModelFixture.ModelName}}}","prompt":"It was","max_tokens":5,"temperature":0,"stream":true}""");

        Assert.Matches(@"^HTTP/1\.[01] 200", head);
        string[] events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal(1, c.GetProperty("choices").GetArrayLength()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
    }
}

[Collection(ModelCollection.Name)]
public sealed class SseFormatTestsInProcess(ModelFixture model) : SseFormatTests(model);

[Collection(GrpcModelCollection.Name)]
public sealed class SseFormatTestsOverGrpcWorker(GrpcModelFixture model) : SseFormatTests(model);

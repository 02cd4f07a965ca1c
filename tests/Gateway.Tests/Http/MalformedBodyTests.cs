using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// Bodies that break HTTP/1.1 framing or pace, written byte by byte over a raw socket: each is the client's
/// fault, so it gets a 4xx with the OpenAI error object (or, when the client is gone, nothing), is logged
/// below Error, and the server keeps serving.
/// </summary>
[Collection(ModelCollection.Name)]
public sealed class MalformedBodyTests(ModelFixture model) : IAsyncLifetime
{
    private const string M = ModelFixture.ModelName;
    private static readonly string Body = $$$"""{"model":"{{{M}}}","prompt":"The jury said","max_tokens":2,"temperature":0}""";
    private readonly LogRecorder _logs = new();
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        var options = new GatewayOptions
        {
            HttpPort = 0,
            GrpcPort = -1,
            UsageLog = null,
            // The shortest grace Kestrel allows (its rate check runs once a second): a stalled body is refused in ~2 s.
            Limits = new ApiLimits { BodyGracePeriod = TimeSpan.FromSeconds(1.1) },
        };
        _host = await GatewayHost.StartAsync(
            options,
            new GatewayDependencies { Workers = [await model.CreateWorkerAsync()] },
            logging: b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(_logs)).WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        Assert.True(_logs.Errors.Count == 0, "unexpected error logs: " + string.Join(" | ", _logs.Errors));
    }

    [Fact]
    public async Task ChunkedBody_BadChunkSize_Is400ErrorObject_LoggedBelowError_ThenServed()
    {
        await using RawHttpConnection c = await RawHttpConnection.ConnectAsync(_host.HttpAddress);

        await c.SendAsync(RawHttpConnection.Head("/v1/completions", "Transfer-Encoding: chunked\r\n") + "zz\r\n" + Body + "\r\n0\r\n\r\n");
        RawResponse response = await c.ReadResponseAsync(TestTimeouts.Call);

        Assert.Equal(400, response.Status);
        JsonElement error = AssertErrorObject(response, "invalid_request_body");
        Assert.Contains("chunk", error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("close", response.Headers["connection"]);
        Assert.True(await c.ClosedByServerAsync(TestTimeouts.Call), "a connection whose framing is lost must be closed");
        Assert.Contains(_logs.Entries, e => e.EventId == 3121 && e.Level is LogLevel.Information or LogLevel.Warning);
        await AssertServedAsync();
    }

    [Fact]
    public async Task Body_StallsBeforeContentLength_Is408ErrorObject_WithinGraceAndCheck_ThenServed()
    {
        await using RawHttpConnection c = await RawHttpConnection.ConnectAsync(_host.HttpAddress);
        var clock = Stopwatch.StartNew();

        await c.SendAsync(RawHttpConnection.Head("/v1/completions", $"Content-Length: {Body.Length}\r\n") + Body[..10]);
        RawResponse response = await c.ReadResponseAsync(TestTimeouts.Call);

        Assert.Equal(408, response.Status);
        AssertErrorObject(response, "request_timeout");
        Assert.Equal("close", response.Headers["connection"]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"408 after {clock.Elapsed}");
        Assert.Contains(_logs.Entries, e => e.EventId == 3121 && e.Level is LogLevel.Information or LogLevel.Warning);
        await AssertServedAsync();
    }

    [Fact]
    public async Task Client_ClosesSendingSideMidBody_ConnectionClosedWithoutError_ThenServed()
    {
        await using RawHttpConnection c = await RawHttpConnection.ConnectAsync(_host.HttpAddress);

        await c.SendAsync(RawHttpConnection.Head("/v1/completions", $"Content-Length: {Body.Length}\r\n") + Body[..10]);
        c.EndSending();

        // Kestrel takes a FIN as the client leaving (HTTP/1.1 has no half-closed requests): no answer, just the close.
        Assert.True(await c.ClosedByServerAsync(TestTimeouts.Call), "the server should close the connection");
        await AssertServedAsync();
    }

    [Fact]
    public async Task Client_ResetsMidBody_NoResponseNoErrorLog_ThenServed()
    {
        RawHttpConnection c = await RawHttpConnection.ConnectAsync(_host.HttpAddress);
        await c.SendAsync(RawHttpConnection.Head("/v1/completions", $"Content-Length: {Body.Length}\r\n") + Body[..10]);
        // The server is reading the body when the reset comes: wait until the request reached the endpoint.
        await WaitForAsync(() => _logs.Entries.Any(e => e.Category.StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal) && e.Message.Contains("/v1/completions", StringComparison.Ordinal)));

        c.Reset();
        await c.DisposeAsync();

        await WaitForAsync(() => _logs.Entries.Any(e => e.EventId == 3122));
        Assert.Equal(LogLevel.Debug, _logs.Entries.First(e => e.EventId == 3122).Level);
        await AssertServedAsync();
    }

    [Fact]
    public async Task ChunkedBody_OverSizeLimit_Is413ErrorObject()
    {
        await using RawHttpConnection c = await RawHttpConnection.ConnectAsync(_host.HttpAddress);
        string chunk = new('a', 1024 * 1024);

        await c.SendAsync(RawHttpConnection.Head("/v1/completions", "Transfer-Encoding: chunked\r\n"));
        for (int i = 0; i < 5; i++)
        {
            await c.SendAsync($"{chunk.Length:x}\r\n{chunk}\r\n");
        }

        RawResponse response = await c.ReadResponseAsync(TestTimeouts.Call);

        Assert.Equal(413, response.Status);
        AssertErrorObject(response, "request_too_large");
        await AssertServedAsync();
    }

    [Fact]
    public async Task WrongMethod_OnAnApiRoute_IsErrorObject()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress };

        using HttpResponseMessage response = await http.GetAsync("/v1/completions").Within();

        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"{response.StatusCode}: {body}");
        Assert.Equal("invalid_request_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    private static JsonElement AssertErrorObject(RawResponse response, string code)
    {
        Assert.StartsWith("application/json", response.Headers["content-type"], StringComparison.Ordinal);
        JsonElement error = JsonDocument.Parse(response.Body).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        return error;
    }

    private async Task AssertServedAsync()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress };
        using var content = new StringContent(Body, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage good = await http.PostAsync("/v1/completions", content).Within();
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Call);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    internal sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message);

    /// <summary>Every log entry of the gateway, so a test can say at which level a client's fault was logged.</summary>
    private sealed class LogRecorder : ILoggerProvider
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyCollection<LogEntry> Entries => _entries;

        public IReadOnlyList<LogEntry> Errors => _entries.Where(e => e.Level >= LogLevel.Error).ToList();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, $"{formatter(state, exception)} {exception?.GetType().Name}"));
        }
    }
}

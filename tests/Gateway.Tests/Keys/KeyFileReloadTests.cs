using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Inference.Gateway.Tests.Keys;

/// <summary>Revoking a key by editing the key file, over real HTTP: no restart, effective within 5 s.</summary>
[Collection(ModelCollection.Name)]
public sealed class KeyFileReloadTests(ModelFixture model, ITestOutputHelper output) : IAsyncLifetime
{
    private const string A = "sk-test-revoke-key-a-000001";
    private const string B = "sk-test-revoke-key-b-000002";
    private static readonly TimeSpan Revocation = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("key-reload-").FullName;
    private readonly List<(GatewayHost Gateway, LogCollector Logs)> _gateways = [];

    private string KeysPath => Path.Combine(_dir, "keys.json");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach ((GatewayHost gateway, LogCollector logs) in _gateways)
        {
            await gateway.DisposeAsync();
            Assert.True(logs.Errors.IsEmpty, "unexpected error logs: " + string.Join(" | ", logs.Errors));
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task KeyRemovedFromFile_GetsUnauthorizedWithin5s_OtherKeyStillWorks(bool renameOver)
    {
        File.WriteAllText(KeysPath, ReloadingKeyStoreTests.KeysJson(A, B));
        (HttpClient http, _) = await StartAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, A));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, B));

        var clock = Stopwatch.StartNew();
        Write(ReloadingKeyStoreTests.KeysJson(B), renameOver);
        await UntilAsync(async () => await StatusAsync(http, A) == HttpStatusCode.Unauthorized, "key A is refused");

        output.WriteLine($"key A refused {clock.Elapsed.TotalMilliseconds:0} ms after the write ({(renameOver ? "rename over" : "in place")})");
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, Revocation);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, B));
    }

    [Fact]
    public async Task MalformedFile_OldKeysKeepWorking_WarningNamesTheLine_ThenAFixedFileApplies()
    {
        File.WriteAllText(KeysPath, ReloadingKeyStoreTests.KeysJson(A, B));
        (HttpClient http, LogCollector logs) = await StartAsync();

        // Line 5 is key B's entry: its tier is unknown.
        Write(ReloadingKeyStoreTests.KeysJson(A, B).Replace("\"basic\" }\n  ]", "\"gold\" }\n  ]", StringComparison.Ordinal), renameOver: false);
        // (A read that catches the rewrite half-way may be refused first, with a warning of its own.)
        await UntilAsync(() => Task.FromResult(logs.Warnings.Any(w => w.Contains("keys[1].tier", StringComparison.Ordinal))), "a warning naming the field");

        string warning = logs.Warnings.First(w => w.Contains("keys[1].tier", StringComparison.Ordinal));
        Assert.Contains(KeysPath, warning);
        Assert.Contains("keys[1].tier", warning);
        Assert.Contains("(line 5)", warning);
        Assert.DoesNotContain(B, warning);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, A));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, B));

        Write(ReloadingKeyStoreTests.KeysJson(A), renameOver: true);
        await UntilAsync(async () => await StatusAsync(http, B) == HttpStatusCode.Unauthorized, "key B is refused");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, A));
    }

    [Fact]
    public async Task EmptyKeyFile_RefusesEveryCaller_ThenAnAddedKeyWorks()
    {
        File.WriteAllText(KeysPath, """{ "keys": [] }""");
        (HttpClient http, _) = await StartAsync();

        // A key file with no keys is not "no keys configured": the gateway never opens.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(http, key: null));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(http, A));

        Write(ReloadingKeyStoreTests.KeysJson(A), renameOver: false);
        await UntilAsync(async () => await StatusAsync(http, A) == HttpStatusCode.OK, "the added key works");
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(http, key: null));
    }

    private async Task<(HttpClient Http, LogCollector Logs)> StartAsync()
    {
        var logs = new LogCollector();
        var options = new GatewayOptions { HttpPort = 0, GrpcPort = -1, KeysFile = KeysPath, UsageLog = null };
        GatewayHost gateway = await GatewayHost.StartAsync(
            options, new GatewayDependencies { Workers = [await model.CreateWorkerAsync()] }, logging: b => b.AddProvider(logs))
            .WaitAsync(TimeSpan.FromSeconds(60));
        _gateways.Add((gateway, logs));
        return (new HttpClient { BaseAddress = gateway.HttpAddress, Timeout = TestTimeouts.Call }, logs);
    }

    private void Write(string json, bool renameOver)
    {
        if (renameOver)
        {
            // What editors and deploy tools do: a complete temporary file, renamed over the original.
            string temp = Path.Combine(_dir, ".keys.json.swp");
            File.WriteAllText(temp, json);
            File.Move(temp, KeysPath, overwrite: true);
        }
        else
        {
            File.WriteAllText(KeysPath, json); // truncate and rewrite the same file
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using HttpResponseMessage response = await http.SendAsync(request).WaitAsync(TestTimeouts.Call);
        return response.StatusCode;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Revocation);
        while (!await condition())
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"not within {Revocation.TotalSeconds} s: {what}");
            }

            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>Collects the gateway's Warning and Error entries (message text with its exception).</summary>
    private sealed class LogCollector : ILoggerProvider
    {
        public ConcurrentQueue<string> Warnings { get; } = new();

        public ConcurrentQueue<string> Errors { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(LogCollector owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                string text = $"{category}[{eventId.Id}]: {formatter(state, exception)} {exception?.Message}";
                (logLevel >= LogLevel.Error ? owner.Errors : owner.Warnings).Enqueue(text);
            }
        }
    }
}

extern alias gateway;

using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using gateway::Inference.Gateway.Hosting;
using Inference.Worker.Runtime;
using Microsoft.Extensions.Logging;

namespace Inference.Client.Tests.Infrastructure;

/// <summary>
/// A real gateway on loopback ports picked by the OS, in this process, serving the bundled demo model
/// (models/brown-llama-5m) through an in-process worker, with a key file and a JSON-lines usage log. Shared by the
/// live test collection; disposing it fails on any Error the gateway logged (STYLE.md).
/// </summary>
public sealed class LiveGateway : IAsyncLifetime
{
    public const string Model = "brown-llama-5m";
    public const string Key = "sk-client-tests-0123456789abcdef";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "client-tests-" + Guid.NewGuid().ToString("N"));
    private readonly ErrorLog _errors = new();
    private GatewayHost _host = null!;

    /// <summary>The public gRPC address (h2c).</summary>
    public Uri GrpcAddress => _host.GrpcAddress!;

    public string UsageLog => Path.Combine(_dir, "usage.jsonl");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        string keys = Path.Combine(_dir, "keys.json");
        await File.WriteAllTextAsync(keys, $$"""{"keys":[{"key":"{{Key}}","tenant":"client-tests","tier":"enterprise"}]}""");
        var options = new GatewayOptions
        {
            LocalWorker = new WorkerOptions { ModelDir = Path.Combine(RepoRoot(), "models", Model), KvCacheMemory = "64MiB" },
            ServedModelName = Model,
            HttpPort = 0,
            GrpcPort = 0,
            KeysFile = keys,
            UsageLog = UsageLog,
            DrainTimeout = TimeSpan.FromSeconds(5),
        };
        _host = await GatewayHost.StartAsync(options, logging: b => b.AddProvider(_errors)).WaitAsync(TimeSpan.FromSeconds(120));
    }

    /// <summary>The usage records written so far (one JSON object per line).</summary>
    public async Task<List<JsonElement>> UsageRecordsAsync()
    {
        if (!File.Exists(UsageLog))
        {
            return [];
        }

        using var stream = new FileStream(UsageLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        string text = await reader.ReadToEndAsync();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }

        Assert.True(_errors.Errors.IsEmpty, "unexpected error logs: " + string.Join(" | ", _errors.Errors));
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inference.sln")))
            {
                return dir.FullName;
            }
        }

        return typeof(LiveGateway).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepoRoot")?.Value
            ?? throw new InvalidOperationException($"no Inference.sln above {AppContext.BaseDirectory}");
    }

    private sealed class ErrorLog : ILoggerProvider
    {
        public ConcurrentQueue<string> Errors { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Errors);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> errors) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error)
                {
                    errors.Enqueue($"{category}[{eventId.Id}]: {formatter(state, exception)} {exception?.GetType().Name}");
                }
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LiveGatewayCollection : ICollectionFixture<LiveGateway>
{
    public const string Name = "live-gateway";
}

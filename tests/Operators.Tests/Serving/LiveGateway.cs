using System.Collections.Concurrent;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Worker.Runtime;
using Microsoft.Extensions.Logging;

namespace Inference.Operators.Tests.Serving;

/// <summary>
/// One in-process gateway (real Kestrel, HTTP and gRPC on loopback ports the OS picks) over the bundled model, shared
/// by the live bench tests: loading the model takes seconds, a run of the benchmark a fraction of that. The gateway's
/// Error logs are collected; each test checks none appeared (STYLE.md: a run fails on unexpected Error logs).
/// </summary>
public sealed class LiveGateway : IAsyncLifetime
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    private readonly ErrorCollector _errors = new();
    private GatewayHost? _host;

    public GatewayHost Host => _host ?? throw new InvalidOperationException("the gateway is not started");

    public Uri HttpAddress => Host.HttpAddress;

    public Uri GrpcAddress => Host.GrpcAddress ?? throw new InvalidOperationException("the gRPC port is disabled");

    public static string Model => RepoFiles.BundledModel();

    /// <summary>Error and Critical entries the gateway logged so far.</summary>
    public IReadOnlyCollection<string> Errors => _errors.Errors;

    public async Task InitializeAsync()
    {
        var options = new GatewayOptions
        {
            HttpPort = 0,
            GrpcPort = 0,
            UsageLog = null,
            ResponseCache = false,
            DrainTimeout = TimeSpan.FromSeconds(5),
            LocalWorker = new WorkerOptions { ModelDir = Model, KvCacheMemory = "64MiB" },
        };
        _host = await GatewayHost.StartAsync(options, logging: b => b.AddProvider(_errors)).WaitAsync(Limit);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync().AsTask().WaitAsync(Limit);
        }
    }

    private sealed class ErrorCollector : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _errors = new();

        public IReadOnlyCollection<string> Errors => _errors;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _errors);

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

/// <summary>The live bench tests share <see cref="LiveGateway"/> and run one at a time: each measures latency, so
/// two running at once would load the 2-core machine and each other's numbers.</summary>
[CollectionDefinition(Name)]
public sealed class LiveGatewayCollection : ICollectionFixture<LiveGateway>
{
    public const string Name = "live bench gateway";
}

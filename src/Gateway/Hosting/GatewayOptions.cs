using Inference.Gateway.Api;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;

namespace Inference.Gateway.Hosting;

/// <summary>Gateway settings, validated before any port opens (<see cref="Validate"/>).</summary>
public sealed record GatewayOptions
{
    /// <summary>Host an in-process worker over this model (the single-machine default).</summary>
    public WorkerOptions? LocalWorker { get; init; }

    public EngineOptions LocalEngine { get; init; } = new();

    /// <summary>The id clients use for the local model; defaults to the folder name.</summary>
    public string? ServedModelName { get; init; }

    /// <summary>Worker daemon URLs (http://host:port, h2c); used instead of a local worker.</summary>
    public IReadOnlyList<string> Workers { get; init; } = [];

    public string Host { get; init; } = "127.0.0.1";

    public int HttpPort { get; init; } = 8000;

    /// <summary>Public gRPC (h2c) port; 0 picks a free one, -1 disables it.</summary>
    public int GrpcPort { get; init; } = 8001;

    /// <summary>JSON key file (see keys.example.json); none means no keys: only allowed on loopback.</summary>
    public string? KeysFile { get; init; }

    /// <summary>
    /// Refuse callers without a key even when no keys exist yet (the platform: its keys live in its database, and an
    /// empty key list must never mean "open").
    /// </summary>
    public bool RequireKeys { get; init; }

    /// <summary>host:port of a redis-server shared by gateway replicas (limits, reservations, cache).</summary>
    public string? Redis { get; init; }

    /// <summary>
    /// Gateway replicas sharing <see cref="Redis"/> (--replicas): while Redis is unreachable each one enforces
    /// 1/N of every rate limit (rounded up) on its own. Default 1.
    /// </summary>
    public int Replicas { get; init; } = 1;

    public bool ResponseCache { get; init; } = true;

    public TimeSpan ResponseCacheTtl { get; init; } = TimeSpan.FromHours(24);

    public long ResponseCacheBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>The usage log's name under the data folder when none is given.</summary>
    public const string DefaultUsageLog = "usage.jsonl";

    /// <summary>Folder for data the gateway writes by default (the usage log); null: <see cref="DataDirectory.Default()"/>.</summary>
    public string? DataDir { get; init; }

    /// <summary>
    /// JSON-lines usage log; a relative path is under the data folder (the default: data/usage.jsonl);
    /// null disables the default sink.
    /// </summary>
    public string? UsageLog { get; init; } = DefaultUsageLog;

    /// <summary>The usage log's full path (<see cref="UsageLog"/> under the data folder unless rooted); null when disabled.</summary>
    public string? UsageLogPath() => UsageLog is null ? null
        : Path.GetFullPath(Path.IsPathRooted(UsageLog) ? UsageLog : Path.Combine(DataDir ?? DataDirectory.Default(), UsageLog));

    /// <summary>How long in-flight requests may run after SIGTERM.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public ApiLimits Limits { get; init; } = new();

    /// <summary>
    /// The model folder for the in-process worker from the command line: <paramref name="model"/>, or the bundled model
    /// when neither a model nor workers are given. Throws ArgumentException when the bundled model is needed but absent.
    /// </summary>
    public static string? ModelOrBundled(string? model, IReadOnlyCollection<string> workers)
    {
        if (model is not null || workers.Count > 0)
        {
            return model;
        }

        return Worker.Cli.BundledModelLocator.Find()
            ?? throw new ArgumentException($"no --model or --worker given and the bundled model ({Worker.Cli.BundledModelLocator.RelativePath}) was not found");
    }

    /// <summary>True when the listening address is loopback only.</summary>
    public bool IsLoopback => Host is "127.0.0.1" or "localhost" or "::1" or "[::1]";

    /// <summary>Throws ArgumentException naming the setting.</summary>
    /// <param name="workersSupplied">True when the caller hands the gateway its workers (tests, the platform).</param>
    public void Validate(bool workersSupplied = false)
    {
        if (LocalWorker is null && Workers.Count == 0 && !workersSupplied)
        {
            throw new ArgumentException("give --model DIR (in-process worker) or at least one --worker URL.");
        }

        if (LocalWorker is not null && Workers.Count > 0)
        {
            throw new ArgumentException("--model and --worker are exclusive: the gateway hosts one in-process worker or connects to daemons.");
        }

        foreach (string w in Workers)
        {
            if (!Uri.TryCreate(w, UriKind.Absolute, out Uri? uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new ArgumentException($"--worker '{w}' is not an http(s) URL.");
            }
        }

        if (HttpPort is < 0 or > 65535)
        {
            throw new ArgumentException($"--port must be in [0, 65535], got {HttpPort}.");
        }

        if (GrpcPort is < -1 or > 65535)
        {
            throw new ArgumentException($"--grpc-port must be in [-1, 65535], got {GrpcPort}.");
        }

        if (KeysFile is null && !RequireKeys && !IsLoopback)
        {
            throw new ArgumentException($"--host {Host} listens beyond loopback: authentication is required, give --keys FILE.");
        }

        if (DataDir is { } dataDir && string.IsNullOrWhiteSpace(dataDir))
        {
            throw new ArgumentException("--data-dir must not be empty.");
        }

        if (Replicas < 1)
        {
            throw new ArgumentException($"--replicas must be at least 1, got {Replicas}.");
        }

        if (ResponseCacheTtl <= TimeSpan.Zero)
        {
            throw new ArgumentException("--cache-ttl must be positive.");
        }

        if (ResponseCacheBytes < 0)
        {
            throw new ArgumentException("--cache-bytes must be >= 0.");
        }

        if (Limits.MaxBodyBytes < 1024)
        {
            throw new ArgumentException("--max-body-bytes must be at least 1024.");
        }

        if (Limits.MinBodyBytesPerSecond < 0 || !double.IsFinite(Limits.MinBodyBytesPerSecond))
        {
            throw new ArgumentException($"Limits.MinBodyBytesPerSecond must be >= 0, got {Limits.MinBodyBytesPerSecond}.");
        }

        if (Limits.BodyGracePeriod <= TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"Limits.BodyGracePeriod must be more than 1 s (Kestrel checks body rates once a second), got {Limits.BodyGracePeriod}.");
        }
    }
}

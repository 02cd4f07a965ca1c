using System.Net;
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

    /// <summary>
    /// Worker discovery: HOST:PORT names resolved to all their addresses every <see cref="WorkerDnsRefresh"/> (a
    /// Kubernetes headless service); each address is a worker at http://ADDRESS:PORT, added and drained as it comes and goes.
    /// </summary>
    public IReadOnlyList<string> WorkerDns { get; init; } = [];

    public TimeSpan WorkerDnsRefresh { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How requests are routed among workers: prefix-affinity (default) or least-loaded.</summary>
    public string RoutingPolicy { get; init; } = Routing.PrefixAffinityPolicy.PolicyName;

    /// <summary>
    /// File holding the workers' prefix-cache secret (the same file the workers are given): prefix-affinity routing then
    /// hashes prompts exactly as the workers' block managers do. Without it the gateway uses a random secret of its own.
    /// </summary>
    public string? PrefixCacheSecretFile { get; init; }

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
    public static string? ModelOrBundled(string? model, IReadOnlyCollection<string> workers, IReadOnlyCollection<string>? workerDns = null)
    {
        if (model is not null || workers.Count > 0 || workerDns is { Count: > 0 })
        {
            return model;
        }

        return Worker.Cli.BundledModelLocator.Find()
            ?? throw new ArgumentException($"no --model or --worker given and the bundled model ({Worker.Cli.BundledModelLocator.RelativePath}) was not found");
    }

    /// <summary>True when the listening address is loopback only.</summary>
    public bool IsLoopback => Host is "127.0.0.1" or "localhost" or "::1" or "[::1]";

    /// <summary>Throws ArgumentException listing every problem of <see cref="Problems"/> (one per line).</summary>
    public void Validate(bool workersSupplied = false)
    {
        List<string> problems = Problems(workersSupplied);
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, problems));
        }
    }

    /// <summary>Every invalid setting, each naming its command-line flag and its configuration key (Gateway:Name).</summary>
    public List<string> Problems(bool workersSupplied = false)
    {
        var problems = new List<string>();
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                problems.Add(message);
            }
        }

        Require(LocalWorker is not null || Workers.Count > 0 || WorkerDns.Count > 0 || workersSupplied,
            "give --model DIR (in-process worker), at least one --worker URL (Gateway:Workers) or --worker-dns HOST:PORT (Gateway:WorkerDns).");
        Require(LocalWorker is null || (Workers.Count == 0 && WorkerDns.Count == 0),
            "--model and --worker/--worker-dns are exclusive: the gateway hosts one in-process worker or connects to daemons.");
        foreach (string w in Workers)
        {
            Require(Uri.TryCreate(w, UriKind.Absolute, out Uri? uri) && (uri.Scheme == "http" || uri.Scheme == "https"),
                $"--worker (Gateway:Workers) '{w}' is not an http(s) URL.");
        }

        foreach (string name in WorkerDns)
        {
            Require(Discovery.DnsWorkerDiscovery.TryParse(name, out _, out _),
                $"--worker-dns (Gateway:WorkerDns) '{name}' is not HOST:PORT (a DNS name and a port in [1, 65535]).");
        }

        Require(WorkerDnsRefresh >= TimeSpan.FromMilliseconds(100) && WorkerDnsRefresh <= TimeSpan.FromHours(1),
            $"--worker-dns-refresh-seconds (Gateway:WorkerDnsRefresh) must be in [0.1 s, 1 h], got {WorkerDnsRefresh}.");
        Require(Routing.RoutingPolicies.Names.Contains(RoutingPolicy),
            $"--routing (Gateway:RoutingPolicy) '{RoutingPolicy}' is unknown: use {string.Join(" or ", Routing.RoutingPolicies.Names)}.");
        Require(PrefixCacheSecretFile is null || File.Exists(PrefixCacheSecretFile),
            $"--prefix-cache-secret-file (Gateway:PrefixCacheSecretFile) '{PrefixCacheSecretFile}' does not exist.");
        Require(HttpPort is >= 0 and <= 65535, $"--port (Gateway:HttpPort) must be in [0, 65535], got {HttpPort}.");
        Require(GrpcPort is >= -1 and <= 65535, $"--grpc-port (Gateway:GrpcPort) must be in [-1, 65535], got {GrpcPort}.");
        Require(Host == "localhost" || IPAddress.TryParse(Host.Trim('[', ']'), out _), $"--host (Gateway:Host) '{Host}' is not an IP address or localhost.");
        Require(KeysFile is not null || RequireKeys || IsLoopback,
            $"--host (Gateway:Host) {Host} listens beyond loopback: authentication is required, give --keys FILE (Gateway:KeysFile).");
        Require(DataDir is not { } dataDir || !string.IsNullOrWhiteSpace(dataDir), "--data-dir (Gateway:DataDir) must not be empty.");
        Require(Replicas >= 1, $"--replicas (Gateway:Replicas) must be at least 1, got {Replicas}.");
        Require(ResponseCacheTtl > TimeSpan.Zero, $"--cache-ttl-seconds (Gateway:ResponseCacheTtl) must be positive, got {ResponseCacheTtl}.");
        Require(ResponseCacheBytes >= 0, $"--cache-memory (Gateway:ResponseCacheBytes) must be >= 0, got {ResponseCacheBytes}.");
        Require(DrainTimeout >= TimeSpan.Zero, $"--drain-timeout-seconds (Gateway:DrainTimeout) must be >= 0, got {DrainTimeout}.");
        Require(Limits.MaxBodyBytes >= 1024, $"--max-body-bytes (Gateway:Limits:MaxBodyBytes) must be at least 1024, got {Limits.MaxBodyBytes}.");
        Require(Limits.MinBodyBytesPerSecond >= 0 && double.IsFinite(Limits.MinBodyBytesPerSecond),
            $"Gateway:Limits:MinBodyBytesPerSecond must be >= 0, got {Limits.MinBodyBytesPerSecond}.");
        Require(Limits.BodyGracePeriod > TimeSpan.FromSeconds(1),
            $"Gateway:Limits:BodyGracePeriod must be more than 1 s (Kestrel checks body rates once a second), got {Limits.BodyGracePeriod}.");
        return problems;
    }
}

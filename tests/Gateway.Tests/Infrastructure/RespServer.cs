using System.Net;
using System.Net.Sockets;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// A real RESP server on a loopback port, without persistence, that a test or fixture owns: redis-server when it is
/// installed (or demanded), else Garnet hosted in this process, so the README's one test command passes on a fresh
/// machine. Which one is controlled by <see cref="ModeVariable"/>; disposing stops it (a crash, as far as clients see).
/// </summary>
public abstract class RespServer : IAsyncDisposable
{
    /// <summary>
    /// <c>INFERENCE_TEST_RESP</c>: <c>auto</c> (default; redis-server if installed, else Garnet), <c>redis</c>
    /// (redis-server must be installed: its absence fails the run) or <c>garnet</c> (Garnet only; redis-server tests skip).
    /// </summary>
    public const string ModeVariable = "INFERENCE_TEST_RESP";

    /// <summary>
    /// <c>INFERENCE_TEST_REDIS_SERVER</c>: the redis-server binary (default /usr/bin/redis-server, then PATH). A path
    /// with no executable file there makes the run behave as on a machine without redis-server.
    /// </summary>
    public const string RedisPathVariable = "INFERENCE_TEST_REDIS_SERVER";

    private static readonly Lazy<string?> s_redisServerPath = new(FindRedisServer);

    protected RespServer(int port) => Port = port;

    public abstract RespServerKind Kind { get; }

    public int Port { get; }

    /// <summary>"127.0.0.1:port", as --redis takes it.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The mode from <see cref="ModeVariable"/>: "auto", "redis" or "garnet".</summary>
    public static string Mode { get; } = ReadMode();

    /// <summary>The redis-server executable, or null when there is none.</summary>
    public static string? RedisServerPath => s_redisServerPath.Value;

    /// <summary>The server tests use when they need just some real RESP server.</summary>
    public static RespServerKind DefaultKind => Mode switch
    {
        "redis" => RespServerKind.Redis,
        "garnet" => RespServerKind.Garnet,
        _ => RedisServerPath is null ? RespServerKind.Garnet : RespServerKind.Redis,
    };

    /// <summary>Why tests that need redis-server itself are skipped in this run; null when they run.</summary>
    public static string? RedisSkipReason => Mode switch
    {
        "garnet" => $"{ModeVariable}=garnet: the redis-server suites are off (Garnet suites still run)",
        "auto" when RedisServerPath is null =>
            $"redis-server is not installed (apt-get install -y redis-server, as .ci/run does, or set {RedisPathVariable}); the same suites ran against Garnet. Set {ModeVariable}=redis to make this a failure",
        _ => null,
    };

    /// <summary>Starts a server of <paramref name="kind"/> on <paramref name="port"/> (0: a free one).</summary>
    public static async Task<RespServer> StartAsync(RespServerKind kind, int port = 0)
    {
        port = port == 0 ? FreePort() : port;
        return kind switch
        {
            RespServerKind.Redis => await RedisServerProcess.StartAsync(
                RedisServerPath ?? throw new InvalidOperationException(
                    $"redis-server is not installed but this run needs it ({ModeVariable}={Mode}): apt-get install -y redis-server"),
                port),
            _ => HostedGarnetServer.Start(port),
        };
    }

    public abstract ValueTask DisposeAsync();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string ReadMode()
    {
        string mode = (Environment.GetEnvironmentVariable(ModeVariable) ?? "auto").Trim().ToLowerInvariant();
        return mode is "" ? "auto"
            : mode is "auto" or "redis" or "garnet" ? mode
            : throw new InvalidOperationException($"{ModeVariable}='{mode}': expected redis, garnet or auto");
    }

    private static string? FindRedisServer()
    {
        if (Environment.GetEnvironmentVariable(RedisPathVariable) is { Length: > 0 } configured)
        {
            return IsExecutable(configured) ? configured : null;
        }

        IEnumerable<string> path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "redis-server"));
        return new[] { "/usr/bin/redis-server" }.Concat(path).FirstOrDefault(IsExecutable);
    }

    // A file with an execute bit (after following links): /dev/null bound over the binary counts as absent.
    private static bool IsExecutable(string path)
    {
        try
        {
            var file = new FileInfo(path);
            FileSystemInfo? target = file.LinkTarget is null ? file : file.ResolveLinkTarget(returnFinalTarget: true);
            return target is FileInfo { Exists: true } f
                && (f.UnixFileMode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

using StackExchange.Redis;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// A real RESP server for a test class or collection, started on a free loopback port and stopped at the end.
/// Tests isolate themselves by key prefix (<see cref="NewPrefix"/>); replicas are separate multiplexers.
/// When the server this fixture needs cannot be had in this run (see <see cref="RespServer.RedisSkipReason"/>),
/// nothing starts and <see cref="SkipReason"/> says why; the tests of a class marked
/// <see cref="RequiresRedisServerAttribute"/> are then reported as skipped.
/// </summary>
public abstract class RespServerFixture : IAsyncLifetime
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private readonly List<ConnectionMultiplexer> _connections = [];
    private RespServer? _server;
    private int _prefixes;

    /// <summary>The kind of server to start.</summary>
    public abstract RespServerKind Kind { get; }

    /// <summary>Why no server was started; null when one runs.</summary>
    public virtual string? SkipReason => null;

    public RespServer Server => _server ?? throw new InvalidOperationException("no RESP server in this run: " + SkipReason);

    public int Port => Server.Port;

    /// <summary>The shared connection.</summary>
    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (SkipReason is not null)
        {
            return;
        }

        _server = await RespServer.StartAsync(Kind);
        Connection = await ConnectAsync();
    }

    /// <summary>A new, separate connection: another gateway replica.</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var connection = await ConnectionMultiplexer.ConnectAsync($"{Server.Endpoint},abortConnect=true,connectTimeout=5000").WaitAsync(ConnectTimeout);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    /// <summary>A key prefix no other test uses.</summary>
    public string NewPrefix() => $"t{Interlocked.Increment(ref _prefixes)}";

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Debian's redis-server (what production runs): skipped when not installed, unless INFERENCE_TEST_RESP=redis demands it.</summary>
public sealed class RedisServerFixture : RespServerFixture
{
    public override RespServerKind Kind => RespServerKind.Redis;

    public override string? SkipReason => RespServer.RedisSkipReason;
}

/// <summary>Garnet hosted in the test process: always available.</summary>
public sealed class GarnetServerFixture : RespServerFixture
{
    public override RespServerKind Kind => RespServerKind.Garnet;
}

/// <summary>Whichever server this run uses by default (<see cref="RespServer.DefaultKind"/>).</summary>
public sealed class DefaultRespServerFixture : RespServerFixture
{
    public override RespServerKind Kind => RespServer.DefaultKind;
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis";
}

[CollectionDefinition(Name)]
public sealed class GarnetCollection : ICollectionFixture<GarnetServerFixture>
{
    public const string Name = "garnet";
}

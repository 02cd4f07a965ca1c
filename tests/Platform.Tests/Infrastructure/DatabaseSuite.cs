using Inference.Platform.Data;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>
/// A test suite that runs once per database: each derived class names its <see cref="Kind"/> (the PostgreSQL one is
/// marked <see cref="RequiresPostgresAttribute"/>), and every test gets a fresh platform on a fresh database.
/// </summary>
public abstract class DatabaseSuite : IAsyncLifetime
{
    private TestPlatform? _platform;

    protected abstract DatabaseKind Kind { get; }

    /// <summary>The platform's services over this test's database.</summary>
    protected TestPlatform Platform => _platform ?? throw new InvalidOperationException("no platform: PostgreSQL is not available in this run");

    public async Task InitializeAsync()
    {
        // A skipped PostgreSQL test never runs; its class may still be built.
        if (Kind == DatabaseKind.Sqlite || PostgresServer.SkipReason is null)
        {
            _platform = await TestPlatform.StartAsync(Kind);
            await SetUpAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_platform is not null)
        {
            await _platform.DisposeAsync();
        }
    }

    /// <summary>More arrangement shared by a suite's tests, once the platform runs.</summary>
    protected virtual Task SetUpAsync() => Task.CompletedTask;
}

using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>The platform's services over a fresh database of one kind, on a fake clock, with mail captured in a folder.</summary>
public sealed class TestPlatform : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;

    private TestPlatform(PlatformServices services, FakeTimeProvider time, LogCapture logs, ILoggerFactory loggers, string dataDir)
    {
        Services = services;
        Time = time;
        Logs = logs;
        _loggers = loggers;
        DataDir = dataDir;
    }

    /// <summary>Where the fake clock starts by default: the first instant of October 2026 (tests seed that month's usage).</summary>
    public static DateTimeOffset Start { get; } = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);

    public PlatformServices Services { get; }

    public FakeTimeProvider Time { get; }

    public LogCapture Logs { get; }

    public string DataDir { get; }

    public string MailDir => Path.Combine(DataDir, "mail");

    public T Get<T>()
        where T : notnull => Services.Get<T>();

    /// <summary>
    /// Argon2id at its smallest cost for tests that hash many times: the same code path in a fraction of the time
    /// (the default parameters are tested in PasswordHasherTests).
    /// </summary>
    public static Platform.Accounts.PasswordHashOptions FastHashing { get; } = new() { MemoryKiB = 64, Iterations = 1, Parallelism = 1 };

    public static async Task<TestPlatform> StartAsync(DatabaseKind kind, PlatformOptions? options = null, DateTimeOffset? now = null, string? database = null)
    {
        string dataDir = TestDatabases.TempFolder("platform-data");
        var time = new FakeTimeProvider(now ?? Start);
        var logs = new LogCapture();
        ILoggerFactory loggers = LoggerFactory.Create(logs.Configure);
        options = (options ?? new PlatformOptions()) with
        {
            Database = database ?? await TestDatabases.NewAsync(kind),
            DataDir = dataDir,
            PasswordHash = options?.PasswordHash ?? FastHashing,
        };
        PlatformServices services = await PlatformServices.CreateAsync(options, loggers, time);
        return new TestPlatform(services, time, logs, loggers, dataDir);
    }

    /// <summary>The newest mail sent to <paramref name="to"/>.</summary>
    public string LastMailTo(string to)
    {
        var files = Directory.Exists(MailDir) ? Directory.GetFiles(MailDir, "*.eml").Where(f => f.Contains(to, StringComparison.Ordinal)).Order().ToList() : [];
        return files.Count == 0 ? throw new InvalidOperationException($"no mail to {to}") : File.ReadAllText(files[^1]);
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        _loggers.Dispose();
        TestDatabases.Remove(DataDir, Services.Database.SqlitePath);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Inference.Platform.Data;
using Npgsql;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL (Debian's postgresql package) started by the tests: initdb into a temporary folder, then
/// pg_ctl on a free loopback port (as the postgres user when the tests run as root, since PostgreSQL refuses root).
/// Without the package the PostgreSQL suites are skipped, unless INFERENCE_TEST_POSTGRES=require (CI) makes that a failure;
/// INFERENCE_TEST_POSTGRES=off skips them on purpose.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(() => StartAsync());
    private static int _databases;
    private readonly string _dir;
    private readonly string _bin;
    private bool _running;

    private PostgresServer(string dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Why PostgreSQL suites cannot run here; null when they can.</summary>
    public static string? SkipReason { get; } = FindSkipReason();

    /// <summary>One server for the whole test run (stopped at process exit).</summary>
    public static Task<PostgresServer> Shared => SharedServer.Value;

    /// <summary>A new, empty database on the shared server, as a platform database spec.</summary>
    public static async Task<string> NewDatabaseAsync()
    {
        PostgresServer server = await Shared.ConfigureAwait(false);
        return await server.CreateDatabaseAsync($"t{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}").ConfigureAwait(false);
    }

    /// <summary>Starts a server of its own (a test that stops and restarts it).</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        if (SkipReason is not null)
        {
            throw new InvalidOperationException(SkipReason);
        }

        string bin = Path.GetDirectoryName(DatabaseBackup.FindTool("initdb"))!;
        await RemoveAbandonedServersAsync(bin).ConfigureAwait(false);
        string dir = Path.Combine(Path.GetTempPath(), $"platform-pg-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", dir], asPostgres: false).ConfigureAwait(false);
        }

        var server = new PostgresServer(dir, bin, FreePort());
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"]).ConfigureAwait(false);
        await server.StartAgainAsync().ConfigureAwait(false);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();

        return server;
    }

    /// <summary>Starts (again) the stopped server on the same port and data.</summary>
    public async Task StartAgainAsync()
    {
        await RunAsync(Path.Combine(_bin, "pg_ctl"),
        [
            "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ]).ConfigureAwait(false);
        _running = true;
    }

    /// <summary>Stops the server at once (fast shutdown: connections are cut).</summary>
    public async Task StopAsync()
    {
        if (!_running)
        {
            return;
        }

        _running = false;
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"]).ConfigureAwait(false);
    }

    /// <summary>Creates a database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Command Timeout=30";

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    // Servers and folders left by earlier test processes (named after their process id) that have exited: a test host
    // that is ended may not get to stop its server or delete its folder. The server is stopped first.
    private static async Task RemoveAbandonedServersAsync(string bin)
    {
        foreach (string dir in Directory.GetDirectories(Path.GetTempPath(), "platform-pg-*"))
        {
            string[] parts = Path.GetFileName(dir).Split('-');
            if (parts.Length != 4 || !int.TryParse(parts[2], out int owner) || owner == Environment.ProcessId || Directory.Exists("/proc/" + owner))
            {
                continue;
            }

            string pidFile = Path.Combine(dir, "data", "postmaster.pid");
            if (File.Exists(pidFile) && File.ReadLines(pidFile).FirstOrDefault() is { } pid && Directory.Exists("/proc/" + pid.Trim()))
            {
                try
                {
                    await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(dir, "data"), "-m", "immediate", "-w", "stop"]).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    continue; // not stoppable: leave it rather than delete a running server's files
                }
            }

            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static string? FindSkipReason()
    {
        if (Environment.GetEnvironmentVariable("INFERENCE_TEST_POSTGRES") == "off")
        {
            return "INFERENCE_TEST_POSTGRES=off";
        }

        try
        {
            DatabaseBackup.FindTool("initdb");
            return null;
        }
        catch (FileNotFoundException) when (Environment.GetEnvironmentVariable("INFERENCE_TEST_POSTGRES") != "require")
        {
            return "PostgreSQL is not installed (apt-get install -y postgresql); INFERENCE_TEST_POSTGRES=require makes this a failure";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres = true)
    {
        var start = new ProcessStartInfo(asPostgres && IsRoot ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres && IsRoot)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("postgres");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(file);
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr.ConfigureAwait(false)} {await stdout.ConfigureAwait(false)}");
        }
    }
}

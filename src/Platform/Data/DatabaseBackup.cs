using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Inference.Platform.Data;

/// <summary>
/// Backup and restore. SQLite: the online backup API (a consistent copy while the platform runs). PostgreSQL:
/// pg_dump in its custom format, restored with pg_restore --clean (the password goes through PGPASSWORD, never
/// the command line).
/// </summary>
public static class DatabaseBackup
{
    /// <summary>Writes a backup of <paramref name="database"/> to <paramref name="file"/>; progress lines go to <paramref name="progress"/>.</summary>
    public static async Task BackupAsync(PlatformDatabase database, string file, TextWriter progress, CancellationToken ct)
    {
        string target = Path.GetFullPath(file);
        if (Path.GetDirectoryName(target) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        if (database.Kind == DatabaseKind.Sqlite)
        {
            if (File.Exists(target))
            {
                File.Delete(target);
            }

            await using var source = new SqliteConnection(database.ConnectionString);
            await source.OpenAsync(ct).ConfigureAwait(false);
            await using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString());
            await destination.OpenAsync(ct).ConfigureAwait(false);
            source.BackupDatabase(destination);
            await progress.WriteLineAsync($"backed up {database.Description} to {target} ({new FileInfo(target).Length:N0} bytes)").ConfigureAwait(false);
            return;
        }

        await RunAsync("pg_dump", ["--format=custom", "--no-owner", "--file", target], database, progress, ct).ConfigureAwait(false);
        await progress.WriteLineAsync($"backed up {database.Description} to {target} ({new FileInfo(target).Length:N0} bytes)").ConfigureAwait(false);
    }

    /// <summary>Replaces the contents of <paramref name="database"/> with the backup in <paramref name="file"/> (stop the platform first).</summary>
    public static async Task RestoreAsync(PlatformDatabase database, string file, TextWriter progress, CancellationToken ct)
    {
        string source = Path.GetFullPath(file);
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"no backup at {source}", source);
        }

        if (database.Kind == DatabaseKind.Sqlite)
        {
            SqliteConnection.ClearAllPools();
            await using var backup = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            await backup.OpenAsync(ct).ConfigureAwait(false);
            await using var destination = new SqliteConnection(new SqliteConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ToString());
            await destination.OpenAsync(ct).ConfigureAwait(false);
            backup.BackupDatabase(destination);
            await progress.WriteLineAsync($"restored {database.Description} from {source}").ConfigureAwait(false);
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await RunAsync("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", source], database, progress, ct).ConfigureAwait(false);
        await progress.WriteLineAsync($"restored {database.Description} from {source}").ConfigureAwait(false);
    }

    private static async Task RunAsync(string tool, IReadOnlyList<string> arguments, PlatformDatabase database, TextWriter progress, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var start = new ProcessStartInfo(FindTool(tool)) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--dbname");
        start.ArgumentList.Add(builder.Database!);
        start.Environment["PGHOST"] = builder.Host;
        start.Environment["PGPORT"] = builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGUSER"] = builder.Username;
        if (builder.Password is { Length: > 0 } password)
        {
            start.Environment["PGPASSWORD"] = password;
        }

        await progress.WriteLineAsync($"running {tool} on {database.Description}").ConfigureAwait(false);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {tool}");
        Task<string> stderr = process.StandardError.ReadToEndAsync(ct);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed with exit code {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()} {(await stdout.ConfigureAwait(false)).Trim()}");
        }
    }

    /// <summary>The PostgreSQL client tool: on PATH, else the newest Debian postgresql-client folder.</summary>
    public static string FindTool(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        const string Debian = "/usr/lib/postgresql";
        if (Directory.Exists(Debian))
        {
            foreach (string version in Directory.GetDirectories(Debian).OrderByDescending(d => int.TryParse(Path.GetFileName(d), out int v) ? v : 0))
            {
                string candidate = Path.Combine(version, "bin", tool);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException($"{tool} was not found on PATH nor under {Debian}/*/bin (apt-get install postgresql-client)");
    }
}

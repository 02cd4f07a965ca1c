namespace Inference.Platform.Tests.Infrastructure;

/// <summary>Fresh databases for tests: a SQLite file in a temporary folder, or a new database on the shared PostgreSQL.</summary>
public static class TestDatabases
{
    public static string TempFolder(string prefix)
    {
        string dir = Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Deletes <paramref name="dir"/> and, for a SQLite spec in a temporary folder, that folder (best effort: tests leave no data behind).</summary>
    public static void Remove(string dir, string? database = null)
    {
        foreach (string? path in new[] { dir, database is not null && !database.Contains('=', StringComparison.Ordinal) ? Path.GetDirectoryName(database) : null })
        {
            if (path is not null && path.StartsWith(Path.GetTempPath(), StringComparison.Ordinal) && Directory.Exists(path))
            {
                try
                {
                    Directory.Delete(path, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }

    /// <summary>A database spec (for <see cref="Hosting.PlatformOptions.Database"/>) of the given kind.</summary>
    public static async Task<string> NewAsync(Inference.Platform.Data.DatabaseKind kind) => kind == Inference.Platform.Data.DatabaseKind.Sqlite
        ? Path.Combine(TempFolder("platform-sqlite"), "platform.db")
        : await PostgresServer.NewDatabaseAsync();
}

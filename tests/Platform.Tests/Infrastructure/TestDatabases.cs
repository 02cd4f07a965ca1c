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

    /// <summary>A database spec (for <see cref="Hosting.PlatformOptions.Database"/>) of the given kind.</summary>
    public static async Task<string> NewAsync(Inference.Platform.Data.DatabaseKind kind) => kind == Inference.Platform.Data.DatabaseKind.Sqlite
        ? Path.Combine(TempFolder("platform-sqlite"), "platform.db")
        : await PostgresServer.NewDatabaseAsync();
}

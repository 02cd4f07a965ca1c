namespace Inference.Platform.Data;

/// <summary>The database engines the platform runs on.</summary>
public enum DatabaseKind
{
    /// <summary>A SQLite file under the data folder (the default).</summary>
    Sqlite,

    /// <summary>A PostgreSQL server (<c>--database postgres://...</c>).</summary>
    Postgres,
}

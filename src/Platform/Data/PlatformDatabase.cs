using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Inference.Platform.Data;

/// <summary>
/// Where the platform keeps its data: a SQLite file (default) or PostgreSQL. Both run the same SQL: the schema sticks
/// to what both engines accept (TEXT, BIGINT, ON CONFLICT DO NOTHING); times are Unix milliseconds and money is
/// whole won (KRW has no minor unit) in BIGINT columns.
/// </summary>
public sealed class PlatformDatabase
{
    static PlatformDatabase() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    private PlatformDatabase(DatabaseKind kind, string connectionString, string description)
    {
        Kind = kind;
        ConnectionString = connectionString;
        Description = description;
    }

    public DatabaseKind Kind { get; }

    /// <summary>The ADO.NET connection string (may hold a password: never log it; log <see cref="Description"/>).</summary>
    public string ConnectionString { get; }

    /// <summary>The database for logs: engine and location, never a password.</summary>
    public string Description { get; }

    /// <summary>The SQLite file, or null on PostgreSQL.</summary>
    public string? SqlitePath { get; private init; }

    /// <summary>A SQLite database in <paramref name="path"/> (created on first open).</summary>
    public static PlatformDatabase Sqlite(string path)
    {
        string full = Path.GetFullPath(path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30, // seconds a statement waits on a locked database (Microsoft.Data.Sqlite retries SQLITE_BUSY)
        };
        return new PlatformDatabase(DatabaseKind.Sqlite, builder.ToString(), $"sqlite {full}") { SqlitePath = full };
    }

    /// <summary>A PostgreSQL database from a URL (postgres://user:password@host:port/db?sslmode=...) or an Npgsql connection string.</summary>
    public static PlatformDatabase Postgres(string urlOrConnectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        if (urlOrConnectionString.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || urlOrConnectionString.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            builder = FromUrl(urlOrConnectionString);
        }
        else
        {
            try
            {
                builder = new NpgsqlConnectionStringBuilder(urlOrConnectionString);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"--database: not a postgres:// URL nor a PostgreSQL connection string ({ex.Message})", ex);
            }
        }

        builder.Pooling = true;
        if (builder.MaxPoolSize > 50)
        {
            builder.MaxPoolSize = 50;
        }

        string description = $"postgres {builder.Host}:{builder.Port}/{builder.Database} as {builder.Username}";
        return new PlatformDatabase(DatabaseKind.Postgres, builder.ToString(), description);
    }

    /// <summary>
    /// The database named by <paramref name="spec"/>: a postgres:// URL or Npgsql connection string ("Host=..."), a
    /// sqlite: path or a file path; null: platform.db in <paramref name="dataDir"/>.
    /// </summary>
    public static PlatformDatabase Parse(string? spec, string dataDir)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            return Sqlite(Path.Combine(dataDir, "platform.db"));
        }

        if (spec.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            return Sqlite(spec["sqlite:".Length..]);
        }

        if (spec.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) || spec.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            return Postgres(spec);
        }

        return Sqlite(spec);
    }

    /// <summary>Opens a pooled connection.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        DbConnection connection = Kind == DatabaseKind.Sqlite
            ? new SqliteConnection(ConnectionString)
            : new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            if (Kind == DatabaseKind.Sqlite)
            {
                // Per connection: enforce foreign keys; wait on a writer instead of failing at once.
                await connection.ExecuteAsync("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;").ConfigureAwait(false);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Begins a transaction that holds a write lock named <paramref name="lockName"/> until it ends, for a read-then-write
    /// that must not interleave with another (the last owner of an organization): SQLite's BEGIN IMMEDIATE (the database's
    /// write lock), PostgreSQL's transaction-scoped advisory lock on a hash of the name.
    /// </summary>
    public async Task<DbTransaction> BeginLockedAsync(DbConnection connection, string lockName, CancellationToken ct)
    {
        if (connection is SqliteConnection sqlite)
        {
            return sqlite.BeginTransaction(deferred: false);
        }

        DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        long key = BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(lockName)), 0);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@key)", new { key }, tx).ConfigureAwait(false);
        return tx;
    }

    /// <summary>True when <paramref name="ex"/> is a unique-constraint violation (either engine).</summary>
    public static bool IsUniqueViolation(Exception ex) => ex switch
    {
        SqliteException s => s.SqliteErrorCode == 19 && s.Message.Contains("UNIQUE", StringComparison.Ordinal),
        PostgresException p => p.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };

    /// <summary>True when <paramref name="ex"/> means the database cannot be reached or used right now (an outage, not a bug).</summary>
    public static bool IsUnavailable(Exception ex) => ex switch
    {
        NpgsqlException n => n is not PostgresException || ((PostgresException)n).SqlState.StartsWith("08", StringComparison.Ordinal)
            || ((PostgresException)n).SqlState.StartsWith("57P", StringComparison.Ordinal),
        SqliteException s => s.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // busy, locked, I/O error, full, cannot open
        TimeoutException => true,
        System.Net.Sockets.SocketException => true,
        InvalidOperationException when ex.InnerException is not null => IsUnavailable(ex.InnerException),
        _ => false,
    };

    private static NpgsqlConnectionStringBuilder FromUrl(string url)
    {
        Uri uri;
        try
        {
            uri = new Uri(url);
        }
        catch (UriFormatException ex)
        {
            throw new ArgumentException($"--database: '{Redact(url)}' is not a valid postgres:// URL ({ex.Message})", ex);
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.Port > 0 ? uri.Port : 5432,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (string.IsNullOrEmpty(builder.Database))
        {
            throw new ArgumentException($"--database: '{Redact(url)}' names no database (postgres://user:password@host:port/DATABASE)");
        }

        string[] userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }

        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string name = Uri.UnescapeDataString(kv[0]);
            string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : string.Empty;
            if (name.Equals("host", StringComparison.OrdinalIgnoreCase))
            {
                builder.Host = value; // a unix socket directory: postgres://user@/db?host=/run/postgresql
                continue;
            }

            try
            {
                builder[name.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? "SSL Mode" : name] = value;
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"--database: unknown connection setting '{name}' in the URL ({ex.Message})", ex);
            }
        }

        return builder;
    }

    /// <summary>The URL with its password replaced by ***.</summary>
    public static string Redact(string url)
    {
        int at = url.IndexOf('@', StringComparison.Ordinal);
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (at < 0 || scheme < 0)
        {
            return url;
        }

        int colon = url.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? string.Concat(url.AsSpan(0, colon + 1), "***", url.AsSpan(at)) : url;
    }
}

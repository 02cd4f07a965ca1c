using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Data;

/// <summary>
/// Brings a database to the current schema at start-up: each pending migration in one transaction, recorded in
/// schema_version. Replicas starting together serialize on a lock (an advisory lock on PostgreSQL, the write lock
/// on SQLite), so each migration runs once.
/// </summary>
public sealed partial class Migrator(PlatformDatabase database, TimeProvider time, ILogger<Migrator> logger)
{
    private const long AdvisoryLockId = 0x1A_F0_22_11; // any constant unique to this application

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestVersion => Schema.Migrations[^1].Version;

    /// <summary>Applies pending migrations; returns how many ran.</summary>
    public async Task<int> MigrateAsync(CancellationToken ct = default)
    {
        if (database.SqlitePath is { } path && Path.GetDirectoryName(path) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        if (database.Kind == DatabaseKind.Sqlite)
        {
            // WAL lets readers run beside the one writer; it is a property of the file, set once.
            await connection.ExecuteAsync("PRAGMA journal_mode = WAL;").ConfigureAwait(false);
        }
        else
        {
            await connection.ExecuteAsync("SELECT pg_advisory_lock(@id)", new { id = AdvisoryLockId }).ConfigureAwait(false);
        }

        try
        {
            await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)").ConfigureAwait(false);
            int ran = 0;
            foreach (var (version, name, sql) in Schema.Migrations)
            {
                await using DbTransaction tx = await BeginAsync(connection, ct).ConfigureAwait(false);
                long applied = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_version WHERE version = @version", new { version = (long)version }, tx).ConfigureAwait(false);
                if (applied > 0)
                {
                    await tx.RollbackAsync(ct).ConfigureAwait(false);
                    continue;
                }

                LogMigrating(logger, database.Description, version, name);
                await connection.ExecuteAsync(sql, transaction: tx).ConfigureAwait(false);
                await connection.ExecuteAsync("INSERT INTO schema_version (version, name, applied_ms) VALUES (@version, @name, @now)",
                    new { version = (long)version, name, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
                await tx.CommitAsync(ct).ConfigureAwait(false);
                ran++;
            }

            long newest = await connection.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(version), 0) FROM schema_version").ConfigureAwait(false);
            if (newest > LatestVersion)
            {
                throw new InvalidOperationException($"The database ({database.Description}) is at schema version {newest}, newer than this build knows ({LatestVersion}): run a newer build.");
            }

            return ran;
        }
        finally
        {
            if (database.Kind == DatabaseKind.Postgres)
            {
                await connection.ExecuteAsync("SELECT pg_advisory_unlock(@id)", new { id = AdvisoryLockId }).ConfigureAwait(false);
            }
        }
    }

    private async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken ct)
    {
        if (database.Kind == DatabaseKind.Sqlite && connection is Microsoft.Data.Sqlite.SqliteConnection sqlite)
        {
            return sqlite.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock before reading the version
        }

        return await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Migrating {Database} to schema version {Version} ({Name})")]
    private static partial void LogMigrating(ILogger logger, string database, int version, string name);
}

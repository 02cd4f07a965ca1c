using System.Data.Common;
using Dapper;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Platform.Tests.Data;

/// <summary>Migrations on a real database: an older schema is brought up to date with its data, and a newer one is refused.</summary>
public abstract class MigratorTests
{
    protected abstract DatabaseKind Kind { get; }

    [DbFact]
    public async Task Migrate_DatabaseAtVersion1_AppliesTheRestKeepingItsRowsAndRunsOnlyOnce()
    {
        PlatformDatabase database = PlatformDatabase.Parse(await TestDatabases.NewAsync(Kind), TestDatabases.TempFolder("migrate"));
        if (database.SqlitePath is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }

        await using (DbConnection connection = await database.OpenAsync())
        {
            await connection.ExecuteAsync("CREATE TABLE schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)");
            await connection.ExecuteAsync(Schema.Migrations[0].Sql);
            await connection.ExecuteAsync("INSERT INTO schema_version (version, name, applied_ms) VALUES (1, 'v1', 0)");
            await connection.ExecuteAsync("INSERT INTO organizations (id, name, plan, created_ms, updated_ms) VALUES ('org_1', 'Old', 'basic', 0, 0)");
        }

        var migrator = new Migrator(database, TimeProvider.System, NullLogger<Migrator>.Instance);
        Assert.Equal(Schema.Migrations.Count - 1, await migrator.MigrateAsync());
        Assert.Equal(0, await migrator.MigrateAsync());
        await using (DbConnection connection = await database.OpenAsync())
        {
            Assert.Equal("Old", await connection.ExecuteScalarAsync<string>("SELECT name FROM organizations WHERE id = 'org_1'"));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM apps"));
            Assert.Equal(Migrator.LatestVersion, await connection.ExecuteScalarAsync<long>("SELECT MAX(version) FROM schema_version"));
            await connection.ExecuteAsync("INSERT INTO schema_version (version, name, applied_ms) VALUES (999, 'from the future', 0)");
        }

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync());
        Assert.Contains("newer than this build", ex.Message, StringComparison.Ordinal);
    }

    [DbFact]
    public async Task Migrate_TwoReplicasAtOnce_EachMigrationRunsOnce()
    {
        string spec = await TestDatabases.NewAsync(Kind);
        PlatformDatabase database = PlatformDatabase.Parse(spec, TestDatabases.TempFolder("migrate"));
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            new Migrator(PlatformDatabase.Parse(spec, "unused"), TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync())));
        Assert.Equal(Schema.Migrations.Count, runs.Sum());
        await using DbConnection connection = await database.OpenAsync();
        Assert.Equal(Schema.Migrations.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_version"));
    }
}

public sealed class MigratorTestsSqlite : MigratorTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class MigratorTestsPostgres : MigratorTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

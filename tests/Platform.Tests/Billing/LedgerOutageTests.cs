using System.Data.Common;
using Dapper;
using Inference.Gateway.Metering;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Billing;

/// <summary>A real PostgreSQL stopped in the middle of a load of usage records: nothing is lost once it returns.</summary>
[RequiresPostgres]
public sealed class LedgerOutageTests
{
    [DbFact]
    public async Task PostgresStoppedMidLoad_RecordsSpoolToDiskAndAllArriveOnceAfterItReturns()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string database = await server.CreateDatabaseAsync("outage");
        await using TestPlatform platform = await TestPlatform.StartAsync(DatabaseKind.Postgres, database: database);
        var ledger = platform.Get<UsageLedger>();
        var (_, records) = await LedgerTests.SeedAsync(platform, seed: 5, count: 3000);

        using var writers = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        int written = 0;
        Task load = Parallel.ForEachAsync(records, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = writers.Token }, async (r, ct) =>
        {
            await ledger.WriteAsync(r, ct);
            Interlocked.Increment(ref written);
        });

        while (Volatile.Read(ref written) < 500 && !load.IsCompleted)
        {
            await Task.Delay(5);
        }

        await server.StopAsync(); // mid-load: writes now fail and go to the spool
        await Task.Delay(1500);
        await server.StartAgainAsync();
        await load.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(records.Count, written);
        Assert.True(ledger.SpooledCount > 0, "some records were written while PostgreSQL was down");

        // The delivery service's work, done here: the spool goes to the database, once.
        int delivered = 0;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                delivered = await ledger.DeliverSpoolAsync(default);
                break;
            }
            catch (Exception ex) when (ex is DbException or InvalidOperationException)
            {
                await Task.Delay(100); // the pool's broken connections are being replaced
            }
        }

        Assert.True(delivered > 0);
        Assert.Equal(0, ledger.SpooledCount);
        await using DbConnection connection = await platform.Services.Database.OpenAsync();
        Assert.Equal(records.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM usage_records"));
        Assert.Equal(records.Sum(r => r.PromptTokens), await connection.ExecuteScalarAsync<long>("SELECT SUM(prompt_tokens) FROM usage_records"));

        // Delivering the same spool again (a crash after the insert, before the spool was emptied) counts nothing twice.
        foreach (UsageRecord r in records.Take(100))
        {
            await ledger.WriteAsync(r, default);
        }

        Assert.Equal(records.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM usage_records"));
    }

    [Fact]
    public async Task Spool_LeftByAStoppedProcess_IsDeliveredByTheNextOne()
    {
        string dir = TestDatabases.TempFolder("platform-spool");
        var unreachable = PlatformDatabase.Sqlite(Path.Combine(dir, "is-a-folder"));
        Directory.CreateDirectory(Path.Combine(dir, "is-a-folder")); // opening a folder as a database fails: the database is "down"
        var first = new UsageLedger(unreachable, Path.Combine(dir, "spool"), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageLedger>.Instance);
        var record = new UsageRecord("req-1", "key", "org_x", "m", 5, 6, 0, null, null, TimeSpan.FromSeconds(1), UsageStatus.Completed, "stop", "completions", false, DateTimeOffset.UnixEpoch);
        await first.WriteAsync(record, default);
        Assert.Equal(1, first.SpooledCount);
        await Assert.ThrowsAnyAsync<Exception>(() => first.DeliverSpoolAsync(default));
        Assert.Equal(1, first.SpooledCount);

        var database = PlatformDatabase.Sqlite(Path.Combine(dir, "platform.db"));
        await new Migrator(database, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Migrator>.Instance).MigrateAsync();
        var second = new UsageLedger(database, Path.Combine(dir, "spool"), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageLedger>.Instance);
        Assert.Equal(1, await second.DeliverSpoolAsync(default));
        Assert.Equal(11, (await second.TokensByOrgAsync("1970-01", default))["org_x"]);
    }
}

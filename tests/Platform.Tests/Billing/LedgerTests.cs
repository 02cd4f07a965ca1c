using System.Data.Common;
using Dapper;
using Inference.Gateway.Metering;
using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Organizations;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Billing;

/// <summary>The usage ledger and invoices on a real database: idempotent replay, exact totals, immutable invoices, backups.</summary>
public abstract class LedgerTests : DatabaseSuite
{

    [DbFact]
    public async Task Replay_TenThousandRecordsWithDuplicatesInRandomOrder_ExactTotalsAndIdenticalInvoices()
    {
        var (orgs, records) = await SeedAsync(Platform, seed: 7);
        var ledger = Platform.Get<UsageLedger>();
        var rng = new Random(11);
        var delivery = records.Concat(records.Where(_ => rng.NextDouble() < 0.05)).OrderBy(_ => rng.Next()).ToList();
        Assert.True(delivery.Count > 10_400);
        await Parallel.ForEachAsync(delivery, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (r, ct) => await ledger.WriteAsync(r, ct));

        IReadOnlyDictionary<string, long> totals = await ledger.TokensByOrgAsync("2026-10", default);
        foreach (var org in orgs)
        {
            long expected = records.Where(r => r.Tenant == org.Id && r.Status is UsageStatus.Completed or UsageStatus.Cancelled && !r.ResponseCacheHit).Sum(r => r.TotalTokens);
            Assert.Equal(expected, totals.GetValueOrDefault(org.Id));
        }

        await using (DbConnection connection = await Platform.Services.Database.OpenAsync())
        {
            Assert.Equal(records.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM usage_records"));
        }

        // Per UTC day, as the usage endpoint reports it.
        Organization sample = orgs[1];
        IReadOnlyList<UsageDay> days = await ledger.DailyAsync(sample.Id, new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), default);
        var expectedDays = records.Where(r => r.Tenant == sample.Id).GroupBy(r => DateOnly.FromDateTime(r.Timestamp.UtcDateTime)).OrderBy(g => g.Key)
            .Select(g => (g.Key, (long)g.Count(), g.Where(r => r.Status is UsageStatus.Completed or UsageStatus.Cancelled && !r.ResponseCacheHit).Sum(r => r.TotalTokens))).ToList();
        Assert.Equal(expectedDays, days.Select(d => (d.Day, d.Requests, d.BillableTokens)).ToList());
        Assert.Equal(31, days.Count);

        var invoices = Platform.Get<InvoiceService>();
        IReadOnlyList<Invoice> issued = await invoices.IssueAsync("2026-10", default);
        Assert.Equal(orgs.Count(o => o.Plan != "free"), issued.Count);
        Assert.Empty(await invoices.IssueAsync("2026-10", default)); // re-running changes nothing

        // The same records delivered in another order to another database give the same invoices, line for line.
        await using TestPlatform other = await TestPlatform.StartAsync(Kind);
        var (otherOrgs, otherRecords) = await SeedAsync(other, seed: 7);
        foreach (UsageRecord r in otherRecords.AsEnumerable().Reverse())
        {
            await other.Get<UsageLedger>().WriteAsync(r, default);
        }

        IReadOnlyList<Invoice> again = await other.Get<InvoiceService>().IssueAsync("2026-10", default);
        Assert.Equal(Describe(issued, orgs), Describe(again, otherOrgs));
        foreach (Invoice invoice in issued)
        {
            Organization org = orgs.Single(o => o.Id == invoice.OrgId);
            Plan plan = Plans.Find(org.Plan)!;
            long tokens = totals[org.Id];
            long expected = plan.MonthlyFeeKrw + (long)decimal.Round(Math.Max(0, tokens - plan.IncludedTokens) * (decimal)plan.OveragePer1kTokensKrw / 1000m, 0, MidpointRounding.AwayFromZero);
            Assert.Equal(expected, invoice.TotalKrw);
            Assert.Equal(invoice.Lines.Sum(l => l.AmountKrw), invoice.TotalKrw);
            Invoice stored = await invoices.GetAsync(org.Id, invoice.Id!, default);
            Assert.Equal(invoice.TotalKrw, stored.TotalKrw);
            Assert.Equal("open", stored.Status);
        }
    }

    [DbFact]
    public async Task Issue_OrganizationDeletedDuringThePeriod_StillBilledForItButNotAfter()
    {
        User owner = await Platform.Get<AccountService>().SignUpAsync("gone@example.com", "correct horse battery", "Gone");
        var orgs = Platform.Get<OrganizationService>();
        Organization org = await orgs.CreateAsync(owner, "Gone Soon", null, default);
        await orgs.SetPlanAsync(owner, org.Id, "basic", null, default);
        Platform.Time.SetUtcNow(new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero));
        await orgs.DeleteAsync(owner, org.Id, "Gone Soon", null, default);
        Platform.Time.SetUtcNow(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));

        var invoices = Platform.Get<InvoiceService>();
        Invoice october = Assert.Single(await invoices.IssueAsync("2026-10", default));
        Assert.Equal(org.Id, october.OrgId);
        Assert.Equal(30_000, october.TotalKrw);
        Assert.Empty(await invoices.IssueAsync("2026-11", default));
    }

    [DbFact]
    public async Task Issue_CurrentOrFuturePeriod_Refused()
    {
        var ex = await Assert.ThrowsAsync<Inference.Platform.Api.PlatformException>(() => Platform.Get<InvoiceService>().IssueAsync("2026-11", default));
        Assert.Equal("period", ex.Field);
    }

    [DbFact]
    public async Task Backup_RestoredIntoAnEmptyDatabase_SameLedgerTotals()
    {
        var (_, records) = await SeedAsync(Platform, seed: 3, count: 500);
        foreach (UsageRecord r in records)
        {
            await Platform.Get<UsageLedger>().WriteAsync(r, default);
        }

        IReadOnlyDictionary<string, long> before = await Platform.Get<UsageLedger>().TokensByOrgAsync("2026-10", default);
        string file = Path.Combine(TestDatabases.TempFolder("platform-backup"), "backup.bin");
        var log = new StringWriter();
        await DatabaseBackup.BackupAsync(Platform.Services.Database, file, log, default);
        Assert.Contains("backed up", log.ToString(), StringComparison.Ordinal);

        var restored = PlatformDatabase.Parse(await TestDatabases.NewAsync(Kind), Platform.DataDir);
        await DatabaseBackup.RestoreAsync(restored, file, log, default);
        await using TestPlatform fromBackup = await TestPlatform.StartAsync(Kind, database: restored.Kind == DatabaseKind.Sqlite ? restored.SqlitePath : restored.ConnectionString);
        IReadOnlyDictionary<string, long> after = await fromBackup.Get<UsageLedger>().TokensByOrgAsync("2026-10", default);
        Assert.Equal(before.OrderBy(p => p.Key), after.OrderBy(p => p.Key));
        Assert.NotEmpty(after);
    }

    private static string Describe(IReadOnlyList<Invoice> invoices, IReadOnlyList<Organization> orgs) => string.Join("\n", invoices
        .Select(i => (Name: orgs.Single(o => o.Id == i.OrgId).Name, i))
        .OrderBy(x => x.Name, StringComparer.Ordinal)
        .Select(x => $"{x.Name} {x.i.Period} {x.i.Plan} {x.i.TotalKrw} | " + string.Join(" | ", x.i.Lines.Select(l => $"{l.LineNo} {l.Description} {l.Quantity} {l.UnitPrice} {l.AmountKrw}"))));

    /// <summary>Five organizations on each plan mix, and usage records for October 2026 (deterministic from the seed).</summary>
    internal static async Task<(IReadOnlyList<Organization> Orgs, List<UsageRecord> Records)> SeedAsync(TestPlatform platform, int seed, int count = 10_000)
    {
        // Organizations are created in October (the fake clock starts there) so that they are billed for it.
        Assert.True(platform.Time.GetUtcNow() < new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        User owner = await platform.Get<AccountService>().SignUpAsync($"owner{seed}@example.com", "correct horse battery", "Owner");
        var orgService = platform.Get<OrganizationService>();
        var orgs = new List<Organization>();
        string[] plans = ["free", "basic", "premium", "enterprise", "basic"];
        for (int i = 0; i < plans.Length; i++)
        {
            Organization org = await orgService.CreateAsync(owner, $"org {i}", null, default);
            orgs.Add(await orgService.SetPlanAsync(owner, org.Id, plans[i], null, default));
        }

        var rng = new Random(seed);
        var records = new List<UsageRecord>(count);
        var start = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < count; i++)
        {
            Organization org = orgs[rng.Next(orgs.Count)];
            // Token counts large enough that some organizations pass their included tokens.
            long prompt = rng.Next(1, 4000), completion = rng.Next(0, 2000);
            UsageStatus status = rng.Next(20) switch { 0 => UsageStatus.Rejected, 1 => UsageStatus.Failed, 2 => UsageStatus.Cancelled, _ => UsageStatus.Completed };
            records.Add(new UsageRecord($"req-{seed}-{i}", "k" + org.Id[^6..], org.Id, "brown-llama-5m", prompt, completion, 0, null, null,
                TimeSpan.FromMilliseconds(rng.Next(10, 5000)), status, "stop", "chat.completions", rng.Next(50) == 0,
                start.AddSeconds(rng.Next(0, 31 * 86400 - 1))));
        }

        platform.Time.SetUtcNow(new DateTimeOffset(2026, 11, 20, 9, 0, 0, TimeSpan.Zero)); // October has ended: it can be invoiced
        return (orgs, records);
    }
}

public sealed class LedgerTestsSqlite : LedgerTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class LedgerTestsPostgres : LedgerTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

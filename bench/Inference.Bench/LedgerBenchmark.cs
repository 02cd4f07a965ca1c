using System.Diagnostics;
using Inference.Gateway.Metering;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Bench;

/// <summary>
/// Usage-ledger write throughput and latency: N records from C concurrent writers (as many finished requests at once)
/// into a fresh SQLite file, or a PostgreSQL database given with --postgres. Each write is durable when it returns.
/// </summary>
internal static class LedgerBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        int records = 5000;
        int[] concurrencies = [1, 16, 128];
        string? postgres = null;
        for (int i = 0; i < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--records":
                    records = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--concurrency":
                    concurrencies = args[i + 1].Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--postgres":
                    postgres = args[i + 1];
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: ledger [--records 5000] [--concurrency 1,16,128] [--postgres CONNECTION]");
                    return 2;
            }
        }

        Console.WriteLine($"| database | writers | records | records/s | p50 ms | p99 ms |");
        Console.WriteLine($"|---|---|---|---|---|---|");
        foreach (int concurrency in concurrencies)
        {
            string dir = Path.Combine(Path.GetTempPath(), "ledger-bench-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(dir);
            PlatformDatabase database = postgres is null ? PlatformDatabase.Sqlite(Path.Combine(dir, "platform.db")) : PlatformDatabase.Postgres(postgres);
            await new Migrator(database, TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync();
            using var ledger = new UsageLedger(database, Path.Combine(dir, "spool"), TimeProvider.System, NullLogger<UsageLedger>.Instance);
            string run = Guid.NewGuid().ToString("N")[..8];
            var latencies = new double[records];
            int next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < records)
                {
                    long start = Stopwatch.GetTimestamp();
                    await ledger.WriteAsync(new UsageRecord($"{run}-{i}", "key", "org_bench", "m", 100, 20, 0, null, null, TimeSpan.FromSeconds(1),
                        UsageStatus.Completed, "stop", "chat.completions", false, DateTimeOffset.UtcNow), default);
                    latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            })));
            double seconds = clock.Elapsed.TotalSeconds;
            Array.Sort(latencies);
            Console.WriteLine($"| {(postgres is null ? "sqlite" : "postgres")} | {concurrency} | {records} | {records / seconds:F0} | {latencies[records / 2]:F2} | {latencies[(int)(records * 0.99)]:F2} |");
            if (ledger.SpooledCount != 0)
            {
                Console.Error.WriteLine($"warning: {ledger.SpooledCount} records were spooled (the database failed during the run)");
            }

            Directory.Delete(dir, recursive: true);
        }

        return 0;
    }
}

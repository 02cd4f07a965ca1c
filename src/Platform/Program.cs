using System.CommandLine;
using Inference.Gateway.Hosting;
using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

// Before anything touches CUDA: number GPUs as NVML does (CUDA_DEVICE_ORDER=PCI_BUS_ID unless set), so the device
// check and GPU telemetry look at the GPU that cuda:N runs on.
Inference.Worker.Gpu.CudaDeviceOrder.UsePciBusOrderUnlessSet();

var database = new Option<string?>("--database") { Description = "postgres://user:password@host:port/db (or an Npgsql connection string); default: a SQLite file, platform.db in the data folder" };
var dataDir = new Option<string?>("--data-dir") { Description = $"Folder for the platform's data (default: {DataDirectory.FolderName}/ at the root of the clone the current directory is in, else ./{DataDirectory.FolderName})" };
var model = new Option<string?>("--model") { Description = $"Model folder for the in-process worker (default: the bundled {BundledModelLocator.RelativePath} when no --worker is given)" };
var workers = new Option<string[]>("--worker") { Description = "Worker daemon URL (repeatable); replaces the in-process worker" };
var routingFlags = new WorkerRoutingFlags();
var workerDns = routingFlags.WorkerDns;
var workerDnsRefresh = routingFlags.WorkerDnsRefresh;
var routing = routingFlags.Routing;
var secretFile = routingFlags.PrefixCacheSecretFile;
var servedName = new Option<string?>("--served-model-name") { Description = "Model id clients use (default: the folder name)" };
var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
var port = new Option<int>("--port") { Description = "HTTP port: management API under /api, OpenAI API under /v1", DefaultValueFactory = _ => 8000 };
var grpcPort = new Option<int>("--grpc-port") { Description = "Public gRPC port (h2c); -1 disables", DefaultValueFactory = _ => 8001 };
var redis = new Option<string?>("--redis") { Description = "redis-server HOST:PORT shared by gateway replicas (limits, reservations, response cache)" };
var replicas = new Option<int>("--replicas") { Description = "Gateway replicas sharing --redis", DefaultValueFactory = _ => 1 };
var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N (in-process worker)", DefaultValueFactory = _ => "cpu" };
var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache budget, e.g. 512MiB" };
var maxModelLen = new Option<int?>("--max-model-len") { Description = "Longest prompt + output" };
var publicUrl = new Option<string?>("--public-url") { Description = "The platform's public address, for links in mail (default http://HOST:PORT)" };
var secureCookies = new Option<bool>("--secure-cookies") { Description = "Mark session cookies Secure (behind a TLS proxy)" };
var file = new Option<string>("--file") { Description = "Backup file", Required = true };

var root = new RootCommand("Inference platform: accounts, organizations, keys, plans, usage ledger and billing, with the gateway and a worker in one process")
{
    database, dataDir, model, workers, workerDns, workerDnsRefresh, routing, secretFile, servedName, host, port, grpcPort, redis, replicas, device, kvMemory, maxModelLen, publicUrl, secureCookies,
};
var backup = new Command("backup", "Write a backup of the platform database (SQLite online backup, or pg_dump)") { database, dataDir, file };
var restore = new Command("restore", "Replace the platform database with a backup (stop the platform first)") { database, dataDir, file };
var migrate = new Command("migrate", "Create or migrate the platform database, then exit") { database, dataDir };
root.Subcommands.Add(backup);
root.Subcommands.Add(restore);
root.Subcommands.Add(migrate);

PlatformOptions Options(ParseResult parse)
{
    // Settings: appsettings.json beside the binary, then PLATFORM__* environment variables, then flags.
    IConfiguration configuration = new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables()
        .Build();
    PlatformOptions options = configuration.GetSection("Platform").Get<PlatformOptions>() ?? new PlatformOptions();
    return options with
    {
        Database = parse.GetValue(database) ?? options.Database,
        DataDir = Path.GetFullPath(parse.GetValue(dataDir) ?? (options.DataDir == "data" ? DataDirectory.Default() : options.DataDir)),
        PublicUrl = parse.GetValue(publicUrl) ?? (options.PublicUrl == new PlatformOptions().PublicUrl ? $"http://{parse.GetValue(host)}:{parse.GetValue(port)}" : options.PublicUrl),
        SecureCookies = parse.GetValue(secureCookies) || options.SecureCookies,
    };
}

backup.SetAction(async (parse, ct) => await Tool(parse, ct, async (db, c) => await DatabaseBackup.BackupAsync(db, parse.GetValue(file)!, Console.Out, c)));
restore.SetAction(async (parse, ct) => await Tool(parse, ct, async (db, c) =>
{
    await DatabaseBackup.RestoreAsync(db, parse.GetValue(file)!, Console.Out, c);
    await new Migrator(db, TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync(c); // a backup from an older build is brought up to date
}));
migrate.SetAction(async (parse, ct) => await Tool(parse, ct, async (db, c) =>
{
    int ran = await new Migrator(db, TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync(c);
    Console.WriteLine($"{db.Description}: {ran} migration(s) applied, schema version {Migrator.LatestVersion}");
}));

async Task<int> Tool(ParseResult parse, CancellationToken ct, Func<PlatformDatabase, CancellationToken, Task> action)
{
    try
    {
        PlatformOptions options = Options(parse);
        await action(PlatformDatabase.Parse(options.Database, options.DataDir), ct);
        return 0;
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or System.Data.Common.DbException)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 1;
    }
}

root.SetAction(async (parse, cancellationToken) =>
{
    string[] workerUrls = parse.GetValue(workers) ?? [];
    string[] workerNames = parse.GetValue(workerDns) ?? [];
    PlatformOptions platform;
    GatewayOptions gateway;
    try
    {
        string? modelDir = GatewayOptions.ModelOrBundled(parse.GetValue(model), workerUrls, workerNames);
        platform = Options(parse);
        gateway = new GatewayOptions
        {
            LocalWorker = modelDir is null ? null : new WorkerOptions
            {
                ModelDir = modelDir,
                Device = parse.GetValue(device)!,
                KvCacheMemory = parse.GetValue(kvMemory),
                MaxModelLength = parse.GetValue(maxModelLen),
            },
            LocalEngine = new EngineOptions(),
            ServedModelName = parse.GetValue(servedName),
            Workers = workerUrls,
            WorkerDns = workerNames,
            WorkerDnsRefresh = TimeSpan.FromSeconds(parse.GetValue(workerDnsRefresh)),
            RoutingPolicy = parse.GetValue(routing)!,
            PrefixCacheSecretFile = parse.GetValue(secretFile) is { } secretPath ? Path.GetFullPath(secretPath) : null,
            Host = parse.GetValue(host)!,
            HttpPort = parse.GetValue(port),
            GrpcPort = parse.GetValue(grpcPort),
            Redis = parse.GetValue(redis),
            Replicas = parse.GetValue(replicas),
            DataDir = platform.DataDir,
            RequireKeys = true,
            UsageLog = null,
        };
        gateway.Validate();
        if (gateway.PrefixCacheSecretFile is { } secret && gateway.LocalWorker is not null)
        {
            gateway = gateway with { LocalEngine = gateway.LocalEngine with { PrefixCacheSecret = PrefixCacheSecret.Read(secret) } };
        }

        if (platform.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join(" ", errors));
        }
    }
    catch (Exception ex) when (ex is ArgumentException or IOException)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 2;
    }

    try
    {
        using var signal = new ShutdownSignal();
        await using PlatformHost stack = await PlatformHost.StartAsync(platform, gateway, progress: new ConsoleLoadProgress(), cancellationToken: cancellationToken);
        Console.Error.WriteLine($"platform data: {platform.DataDir} ({stack.Services.Database.Description})");
        if (stack.BootstrapTokenFile is { } tokenFile)
        {
            // The token itself is never printed (console output ends up in logs): the command reads it from its file.
            Console.WriteLine($"no platform admin yet: a one-time token to create one is in {tokenFile} (readable by this user only; a new one at each start until used):");
            Console.WriteLine($"  curl -s {stack.HttpAddress}api/admin/bootstrap -H 'Content-Type: application/json' -d \"{{\\\"token\\\":\\\"$(cat '{tokenFile}')\\\",\\\"email\\\":\\\"you@example.com\\\",\\\"password\\\":\\\"a long password\\\"}}\"");
        }

        Console.WriteLine($"listening on {stack.HttpAddress} (dashboard /, management API /api, OpenAI API /v1, apps /apps/{{slug}}){(stack.Gateway.GrpcAddress is { } g ? $" and {g} (gRPC)" : string.Empty)}");
        await signal.Requested;
        Console.Error.WriteLine("draining: finishing in-flight requests (signal again to stop now)");
        try
        {
            bool finished = await stack.DrainAsync(signal.Forced);
            Console.Error.WriteLine(finished ? "drained" : "drain timeout: stopping with requests in flight");
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("stopping now");
        }

        return 0;
    }
    catch (Exception ex) when (ex is Inference.Worker.Loading.ModelLoadException or IOException or ArgumentException or InvalidOperationException
        or System.Data.Common.DbException or StackExchange.Redis.RedisException)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 1;
    }
});
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

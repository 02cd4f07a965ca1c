using System.CommandLine;
using Inference.Gateway.Api;
using Inference.Gateway.Hosting;
using Inference.Scheduler;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

var model = new Option<string?>("--model") { Description = $"Model folder for the in-process worker (default: the bundled {BundledModelLocator.RelativePath} when no --worker is given)" };
var workers = new Option<string[]>("--worker") { Description = "Worker daemon URL, e.g. http://10.0.0.5:9000 (repeatable); replaces the in-process worker" };
var servedName = new Option<string?>("--served-model-name") { Description = "Model id clients use (default: the folder name)" };
var host = new Option<string>("--host") { Description = "Address to listen on; beyond loopback, --keys is required", DefaultValueFactory = _ => "127.0.0.1" };
var port = new Option<int>("--port") { Description = "HTTP port (OpenAI-compatible API)", DefaultValueFactory = _ => 8000 };
var grpcPort = new Option<int>("--grpc-port") { Description = "Public gRPC port (h2c); -1 disables", DefaultValueFactory = _ => 8001 };
var keys = new Option<string?>("--keys") { Description = "API key file (JSON, see keys.example.json)" };
var redis = new Option<string?>("--redis") { Description = "redis-server HOST:PORT shared by gateway replicas (limits, reservations, response cache)" };
var dataDir = new Option<string?>("--data-dir") { Description = $"Folder for the gateway's data (default: {DataDirectory.FolderName}/ at the root of the clone the current directory is in, else ./{DataDirectory.FolderName})" };
var usageLog = new Option<string?>("--usage-log") { Description = $"JSON-lines usage records file (default: {GatewayOptions.DefaultUsageLog} in the data folder)" };
var noCache = new Option<bool>("--no-response-cache") { Description = "Disable the response cache" };
var cacheTtl = new Option<int>("--cache-ttl-seconds") { Description = "Response cache TTL", DefaultValueFactory = _ => 86400 };
var cacheBytes = new Option<string>("--cache-memory") { Description = "In-memory response cache size", DefaultValueFactory = _ => "256MiB" };
var drain = new Option<int>("--drain-timeout-seconds") { Description = "How long in-flight requests may run after SIGTERM", DefaultValueFactory = _ => 30 };
var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N (in-process worker)", DefaultValueFactory = _ => "cpu" };
var dtype = new Option<string>("--dtype") { Description = "auto, float32, float16 or bfloat16", DefaultValueFactory = _ => "auto" };
var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache budget, e.g. 512MiB" };
var maxModelLen = new Option<int?>("--max-model-len") { Description = "Longest prompt + output" };
var maxNumSeqs = new Option<int>("--max-num-seqs") { Description = "Most sequences per step", DefaultValueFactory = _ => 256 };
var maxBatchedTokens = new Option<int>("--max-num-batched-tokens") { Description = "Most tokens (decodes plus prefill chunks) per step", DefaultValueFactory = _ => new SchedulerOptions().MaxNumBatchedTokens };
var longPrefill = new Option<int>("--long-prefill-token-threshold") { Description = "Most prompt tokens one sequence prefills per step (0: the step's whole budget)", DefaultValueFactory = _ => 0 };
var blockSize = new Option<int>("--block-size") { Description = "Tokens per KV block", DefaultValueFactory = _ => 16 };
var maxQueued = new Option<int>("--max-queued-requests") { Description = "Waiting requests before 503", DefaultValueFactory = _ => 4096 };
var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body", DefaultValueFactory = _ => 4L * 1024 * 1024 };
var replicas = new Option<int>("--replicas") { Description = "Gateway replicas sharing --redis: while it is unreachable each enforces 1/N of every rate limit", DefaultValueFactory = _ => 1 };

var root = new RootCommand("Inference gateway: OpenAI-compatible HTTP and gRPC streaming API over one or more workers")
{
    model, workers, servedName, host, port, grpcPort, keys, redis, dataDir, usageLog, noCache, cacheTtl, cacheBytes, drain,
    device, dtype, kvMemory, maxModelLen, maxNumSeqs, maxQueued, maxBody,
};
root.Options.Add(replicas);
root.Options.Add(maxBatchedTokens);
root.Options.Add(longPrefill);
root.Options.Add(blockSize);
root.SetAction(async (parse, cancellationToken) =>
{
    string[] workerUrls = parse.GetValue(workers) ?? [];
    GatewayOptions options;
    try
    {
        string? modelDir = GatewayOptions.ModelOrBundled(parse.GetValue(model), workerUrls);
        var engine = new EngineOptions();
        options = new GatewayOptions
        {
            LocalWorker = modelDir is null ? null : new WorkerOptions
            {
                ModelDir = modelDir,
                Device = parse.GetValue(device)!,
                Dtype = parse.GetValue(dtype)!,
                KvCacheMemory = parse.GetValue(kvMemory),
                MaxModelLength = parse.GetValue(maxModelLen),
                BlockSize = parse.GetValue(blockSize),
                MaxNumBatchedTokens = parse.GetValue(maxBatchedTokens),
            },
            LocalEngine = engine with
            {
                Scheduler = engine.Scheduler with
                {
                    MaxNumSeqs = parse.GetValue(maxNumSeqs),
                    MaxNumBatchedTokens = parse.GetValue(maxBatchedTokens),
                    LongPrefillTokenThreshold = parse.GetValue(longPrefill),
                    MaxQueuedRequests = parse.GetValue(maxQueued),
                },
            },
            ServedModelName = parse.GetValue(servedName),
            Workers = workerUrls,
            Host = parse.GetValue(host)!,
            HttpPort = parse.GetValue(port),
            GrpcPort = parse.GetValue(grpcPort),
            KeysFile = parse.GetValue(keys),
            Redis = parse.GetValue(redis),
            DataDir = Path.GetFullPath(parse.GetValue(dataDir) ?? DataDirectory.Default()),
            UsageLog = parse.GetValue(usageLog) is { } usagePath ? Path.GetFullPath(usagePath) : GatewayOptions.DefaultUsageLog, // relative to the current directory
            ResponseCache = !parse.GetValue(noCache),
            ResponseCacheTtl = TimeSpan.FromSeconds(parse.GetValue(cacheTtl)),
            ResponseCacheBytes = ByteSize.Parse(parse.GetValue(cacheBytes)!, "--cache-memory"),
            DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drain)),
            Limits = new ApiLimits { MaxBodyBytes = parse.GetValue(maxBody) },
            Replicas = parse.GetValue(replicas),
        };
        options.Validate();
        options.LocalEngine.Scheduler.Validate();
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 2;
    }

    try
    {
        using var signal = new ShutdownSignal();
        await using GatewayHost gateway = await GatewayHost.StartAsync(options, progress: new ConsoleLoadProgress(), cancellationToken: cancellationToken);
        Console.Error.WriteLine($"usage records: {options.UsageLogPath()}");
        Console.WriteLine($"listening on {gateway.HttpAddress} (OpenAI HTTP){(gateway.GrpcAddress is { } g ? $" and {g} (gRPC)" : string.Empty)}");
        await signal.Requested;
        Console.Error.WriteLine($"draining: finishing in-flight requests (up to {options.DrainTimeout.TotalSeconds:0} s; signal again to stop now)");
        try
        {
            bool finished = await gateway.DrainAsync(signal.Forced);
            Console.Error.WriteLine(finished ? "drained" : "drain timeout: stopping with requests in flight");
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("stopping now");
        }

        return 0;
    }
    catch (Exception ex) when (ex is Inference.Worker.Loading.ModelLoadException or Inference.Gateway.Keys.KeyFileException or IOException or ArgumentException or StackExchange.Redis.RedisException)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 1;
    }
});
// The gateway handles SIGTERM/SIGINT itself (a drain may take --drain-timeout-seconds); System.CommandLine
// would force the process down 2 s after the signal.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

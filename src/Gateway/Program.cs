using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Inference.Gateway.Api;
using Inference.Gateway.Hosting;
using Inference.Scheduler;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

// Before anything touches CUDA: number GPUs as NVML does (CUDA_DEVICE_ORDER=PCI_BUS_ID unless set), so the device
// check and GPU telemetry look at the GPU that cuda:N runs on.
Inference.Worker.Gpu.CudaDeviceOrder.UsePciBusOrderUnlessSet();

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
var routingFlags = new WorkerRoutingFlags();
var workerDns = routingFlags.WorkerDns;
var workerDnsRefresh = routingFlags.WorkerDnsRefresh;
var routing = routingFlags.Routing;
var secretFile = routingFlags.PrefixCacheSecretFile;
var settings = new Option<string?>("--config") { Description = "Settings file (JSON, section Gateway; default: ./appsettings.json when present). Environment INFERENCE_Gateway__Name and flags override it" };
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
root.Options.Add(workerDns);
root.Options.Add(workerDnsRefresh);
root.Options.Add(routing);
root.Options.Add(secretFile);
root.Options.Add(settings);
root.SetAction(async (parse, cancellationToken) =>
{
    GatewayOptions options;
    try
    {
        // Settings: appsettings.json (or --config), then INFERENCE_Gateway__* variables, then the flags given here.
        var given = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Set<T>(Option<T> option, string key, Func<T, string?>? format = null)
        {
            if (parse.GetResult(option) is { Implicit: false })
            {
                T value = parse.GetValue(option)!;
                given[$"{GatewayConfiguration.Section}:{key}"] = format is null ? Convert.ToString(value, CultureInfo.InvariantCulture) : format(value);
            }
        }

        void SetList(Option<string[]> option, string key)
        {
            string[] values = parse.GetValue(option) ?? [];
            for (int i = 0; i < values.Length; i++)
            {
                given[$"{GatewayConfiguration.Section}:{key}:{i}"] = values[i];
            }
        }

        static string Seconds(int s) => TimeSpan.FromSeconds(s).ToString("c", CultureInfo.InvariantCulture);
        SetList(workers, "Workers");
        SetList(workerDns, "WorkerDns");
        Set(workerDnsRefresh, "WorkerDnsRefresh", s => TimeSpan.FromSeconds(s).ToString("c", CultureInfo.InvariantCulture));
        Set(routing, "RoutingPolicy");
        Set(secretFile, "PrefixCacheSecretFile", f => f is null ? null : Path.GetFullPath(f));
        Set(servedName, "ServedModelName");
        Set(host, "Host");
        Set(port, "HttpPort");
        Set(grpcPort, "GrpcPort");
        Set(keys, "KeysFile");
        Set(redis, "Redis");
        Set(dataDir, "DataDir", d => d is null ? null : Path.GetFullPath(d));
        Set(usageLog, "UsageLog", u => u is null ? null : Path.GetFullPath(u)); // relative to the current directory
        Set(noCache, "ResponseCache", off => off ? "false" : "true");
        Set(cacheTtl, "ResponseCacheTtl", Seconds);
        Set(cacheBytes, "ResponseCacheBytes", b => ByteSize.Parse(b!, "--cache-memory").ToString(CultureInfo.InvariantCulture));
        Set(drain, "DrainTimeout", Seconds);
        Set(maxBody, "Limits:MaxBodyBytes");
        Set(replicas, "Replicas");
        Set(maxNumSeqs, "LocalEngine:Scheduler:MaxNumSeqs");
        Set(maxBatchedTokens, "LocalEngine:Scheduler:MaxNumBatchedTokens");
        Set(longPrefill, "LocalEngine:Scheduler:LongPrefillTokenThreshold");
        Set(maxQueued, "LocalEngine:Scheduler:MaxQueuedRequests");
        IConfigurationRoot configuration = GatewayConfiguration.Build(parse.GetValue(settings), given);
        IConfigurationSection section = configuration.GetSection(GatewayConfiguration.Section);

        // The in-process worker: --model, or the bundled model when no worker daemons are given anywhere.
        string? modelDir = GatewayOptions.ModelOrBundled(
            parse.GetValue(model) ?? section["LocalWorker:ModelDir"],
            [.. section.GetSection("Workers").GetChildren().Select(c => c.Value ?? string.Empty)],
            [.. section.GetSection("WorkerDns").GetChildren().Select(c => c.Value ?? string.Empty)]);
        if (modelDir is not null)
        {
            given["Gateway:LocalWorker:ModelDir"] = modelDir;
            Set(device, "LocalWorker:Device");
            Set(dtype, "LocalWorker:Dtype");
            Set(kvMemory, "LocalWorker:KvCacheMemory");
            Set(maxModelLen, "LocalWorker:MaxModelLength");
            Set(blockSize, "LocalWorker:BlockSize");
            Set(maxBatchedTokens, "LocalWorker:MaxNumBatchedTokens");
            configuration = GatewayConfiguration.Build(parse.GetValue(settings), given);
        }

        options = GatewayConfiguration.Load(configuration);
        if (options.PrefixCacheSecretFile is { } secretPath && options.LocalWorker is not null)
        {
            options = options with { LocalEngine = options.LocalEngine with { PrefixCacheSecret = PrefixCacheSecret.Read(secretPath) } };
        }

        options = options with { DataDir = Path.GetFullPath(options.DataDir ?? DataDirectory.Default()) };
    }
    catch (OptionsValidationException ex)
    {
        foreach (string failure in ex.Failures)
        {
            Console.Error.WriteLine($"error: {failure}");
        }

        return 2;
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or IOException)
    {
        // InvalidOperationException: the binder's own message names an unknown or mistyped configuration key.
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

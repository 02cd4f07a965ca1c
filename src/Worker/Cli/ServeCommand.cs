using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Loading;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;

namespace Inference.Worker.Cli;

/// <summary>
/// `serve`: the worker daemon. Binds the port first (health NOT_SERVING), loads the model with progress on
/// stderr, then prints "listening on http://HOST:PORT" to stdout and serves worker.proto over h2c.
/// SIGTERM or Ctrl+C drains: NOT_SERVING and new requests refused at once, in-flight ones finish within
/// --drain-timeout, then exit 0. A second signal stops at once.
/// </summary>
internal static class ServeCommand
{
    public const string Name = "serve";

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"Hugging Face model folder (default: the bundled {BundledModelLocator.RelativePath})" };
        var servedName = new Option<string?>("--served-model-name") { Description = "Model id clients ask for (default: the folder's name)" };
        var host = new Option<string>("--host") { Description = "Address to bind: an IP or localhost", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one)", DefaultValueFactory = _ => 9000 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N; a list (cuda:0,cuda:1) splits the layers across the devices, one pipeline stage each", DefaultValueFactory = _ => "cpu" };
        var pipelineLayers = new Option<string?>("--pipeline-layers") { Description = "Decoder layers per pipeline stage, one count per --device entry, e.g. 12,20 (default: an even split)" };
        var dtype = new Option<string>("--dtype") { Description = "auto, float32, float16 or bfloat16", DefaultValueFactory = _ => "auto" };
        var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache budget per device, e.g. 512MiB (default 1GiB on CPU, 90% of free memory on CUDA)" };
        var maxModelLen = new Option<int?>("--max-model-len") { Description = "Longest prompt + output (default: max_position_embeddings)" };
        var blockSize = new Option<int>("--block-size") { Description = "Tokens per KV block", DefaultValueFactory = _ => 16 };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "llama2, llama3, chatml or mistral (overrides detection)" };
        var maxNumSeqs = new Option<int>("--max-num-seqs") { Description = "Most sequences per step", DefaultValueFactory = _ => new SchedulerOptions().MaxNumSeqs };
        var maxBatchedTokens = new Option<int>("--max-num-batched-tokens") { Description = "Most tokens per step", DefaultValueFactory = _ => new SchedulerOptions().MaxNumBatchedTokens };
        var longPrefill = new Option<int>("--long-prefill-token-threshold") { Description = "Most prompt tokens one sequence prefills per step (0: the step's whole budget)", DefaultValueFactory = _ => 0 };
        var maxQueued = new Option<int>("--max-queued-requests") { Description = "Waiting requests beyond which new ones are refused", DefaultValueFactory = _ => new SchedulerOptions().MaxQueuedRequests };
        var maxQueuedTokens = new Option<long>("--max-queued-tokens") { Description = "Waiting prompt tokens beyond which new requests are refused", DefaultValueFactory = _ => new SchedulerOptions().MaxQueuedTokens };
        var noPrefixCaching = new Option<bool>("--no-prefix-caching") { Description = "Do not reuse KV blocks of repeated prompt prefixes" };
        var secretFile = new Option<string?>("--prefix-cache-secret-file") { Description = "File with the secret keying per-tenant prefix-cache hashes (at least 16 bytes; give gateways the same file for exact prefix-affinity routing)" };
        var drainTimeout = new Option<double>("--drain-timeout") { Description = "Seconds in-flight requests get to finish on SIGTERM", DefaultValueFactory = _ => 30 };
        var allowShared = new Option<bool>(Gpu.DeviceAdmission.AllowSharedFlag) { Description = "Start on a CUDA device other processes use or whose memory is taken" };
        var busyFraction = new Option<double>(Gpu.DeviceAdmission.BusyFractionFlag) { Description = "A CUDA device with more than this fraction of its memory in use is busy", DefaultValueFactory = _ => 0.1 };

        var command = new Command(Name, "Serve a model folder over gRPC (worker.proto, h2c) until SIGTERM")
        {
            model, servedName, host, port, device, pipelineLayers, dtype, kvMemory, maxModelLen, blockSize, chatTemplate,
            maxNumSeqs, maxBatchedTokens, longPrefill, maxQueued, maxQueuedTokens, noPrefixCaching, drainTimeout,
            allowShared, busyFraction,
        };
        command.Options.Add(secretFile);

        command.SetAction(async (parse, cancellationToken) =>
        {
            string? modelDir = parse.GetValue(model) ?? BundledModelLocator.Find();
            if (modelDir is null)
            {
                Console.Error.WriteLine($"error: --model was not given and no {BundledModelLocator.RelativePath} was found above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}.");
                return 2;
            }

            var workerOptions = new WorkerOptions
            {
                ModelDir = modelDir,
                Device = parse.GetValue(device)!,
                PipelineLayers = parse.GetValue(pipelineLayers),
                Dtype = parse.GetValue(dtype)!,
                KvCacheMemory = parse.GetValue(kvMemory),
                MaxModelLength = parse.GetValue(maxModelLen),
                BlockSize = parse.GetValue(blockSize),
                MaxNumBatchedTokens = parse.GetValue(maxBatchedTokens),
                ChatTemplate = parse.GetValue(chatTemplate),
                AllowSharedDevice = parse.GetValue(allowShared),
                BusyDeviceMemoryFraction = parse.GetValue(busyFraction),
            };
            byte[]? secret;
            try
            {
                secret = parse.GetValue(secretFile) is { } path ? PrefixCacheSecret.Read(path) : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                Console.Error.WriteLine($"error: --prefix-cache-secret-file: {ex.Message}");
                return 2;
            }

            var engineOptions = new EngineOptions
            {
                PrefixCacheSecret = secret ?? new EngineOptions().PrefixCacheSecret,
                Scheduler = new SchedulerOptions
                {
                    MaxNumSeqs = parse.GetValue(maxNumSeqs),
                    MaxNumBatchedTokens = parse.GetValue(maxBatchedTokens),
                    LongPrefillTokenThreshold = parse.GetValue(longPrefill),
                    MaxQueuedRequests = parse.GetValue(maxQueued),
                    MaxQueuedTokens = parse.GetValue(maxQueuedTokens),
                },
                EnablePrefixCaching = !parse.GetValue(noPrefixCaching),
            };
            var serverOptions = new WorkerServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drainTimeout)),
            };
            return await RunAsync(workerOptions, engineOptions, serverOptions, parse.GetValue(servedName), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        WorkerOptions workerOptions, EngineOptions engineOptions, WorkerServerOptions serverOptions, string? servedName, CancellationToken cancellationToken)
    {
        try
        {
            // Bad settings fail here, before a port opens.
            engineOptions.Scheduler.Validate();
            serverOptions.Validate();
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }

        using var shutdown = new ShutdownSignal();
        await using WorkerServer server = await WorkerServer.StartAsync(
            serverOptions,
            logging => logging
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace) // stdout carries only the "listening on" line
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                }),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        ILogger logger = server.LoggerFactory.CreateLogger("Inference.Worker.Serve");
        WorkerServerLog.EffectiveSettings(logger, Describe(workerOptions, engineOptions, serverOptions, servedName));

        WorkerHost workerHost;
        try
        {
            // Loading is synchronous and long: off the signal-handling path, so a SIGTERM during it is seen.
            workerHost = await Task.Run(() => WorkerHost.Start(workerOptions, engineOptions, servedName, new ConsoleLoadProgress()), cancellationToken).ConfigureAwait(false);
        }
        catch (ModelLoadException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }

        server.Attach(workerHost);
        if (workerHost.Gpu is { } gpu)
        {
            WorkerServerLog.GpuTelemetry(logger, workerOptions.Device, gpu.Status);
        }

        if (shutdown.Requested.IsCompleted)
        {
            await server.DrainAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }

        Console.Out.WriteLine($"listening on {server.Address.GetLeftPart(UriPartial.Authority)}");
        Console.Out.Flush();

        await shutdown.Requested.ConfigureAwait(false);
        await server.DrainAsync(shutdown.Forced).ConfigureAwait(false);
        return 0;
    }

    private static string Describe(WorkerOptions w, EngineOptions e, WorkerServerOptions s, string? servedName) => string.Create(
        CultureInfo.InvariantCulture,
        $"model={w.ModelDir} served-model-name={servedName ?? WorkerHost.DefaultModelName(w.ModelDir)} device={w.Device} pipeline-layers={w.PipelineLayers ?? "even"} dtype={w.Dtype} " +
        $"kv-cache-memory={w.KvCacheMemory ?? "default"} max-model-len={(w.MaxModelLength?.ToString(CultureInfo.InvariantCulture) ?? "model")} block-size={w.BlockSize} " +
        $"max-num-seqs={e.Scheduler.MaxNumSeqs} max-num-batched-tokens={e.Scheduler.MaxNumBatchedTokens} max-queued-requests={e.Scheduler.MaxQueuedRequests} " +
        $"max-queued-tokens={e.Scheduler.MaxQueuedTokens} prefix-caching={e.EnablePrefixCaching} host={s.Host} port={s.Port} drain-timeout={s.DrainTimeout.TotalSeconds}s " +
        $"allow-shared-device={w.AllowSharedDevice} busy-device-memory-fraction={w.BusyDeviceMemoryFraction}");
}

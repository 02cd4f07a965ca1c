using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.Gateway.Hosting;
using Inference.Gateway.Workers;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Inference.Bench;

/// <summary>
/// Gateway overhead in one run: the same workload (fixed prompt, exactly 32 output tokens via
/// min_tokens = max_tokens, greedy, response cache off) sent (a) straight to the in-process
/// <see cref="WorkerHost"/>, (b) through the OpenAI HTTP API with SSE streaming and (c) through the public
/// gRPC streaming API, all served by one gateway over one worker in this process. Rounds interleave the
/// three paths (direct, HTTP, gRPC, direct, ...) so machine noise lands on all three alike; a round is
/// one request at concurrency 1 and one wave of <c>concurrency</c> simultaneous requests above that.
/// TTFT is the time to the first event carrying text. Progress goes to stderr, the markdown tables to stdout.
/// Run: dotnet run -c Release --project bench/Inference.Bench -- gateway [--concurrency 1,16] [--requests 40,160]
/// </summary>
internal static class GatewayBenchmark
{
    private const string ModelName = "brown-llama-5m";
    private const string Prompt = "The old house at the end of the road had been empty for many years, and the children of the town";
    private const int OutputTokens = 32;
    private const int WarmupRequests = 4;

    private static readonly string[] PathNames = ["direct", "HTTP SSE", "gRPC"];

    public static int Run(string[] args)
    {
        int[] levels = [1, 16];
        int[]? requests = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--concurrency":
                    levels = ParseList(args[i + 1]);
                    break;
                case "--requests":
                    requests = ParseList(args[i + 1]);
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 2;
            }
        }

        if (args.Length % 2 != 0)
        {
            Console.Error.WriteLine($"option {args[^1]} needs a value");
            return 2;
        }

        // Default: 40 requests per path at concurrency 1, 10 waves (160 at 16) above it.
        requests ??= levels.Select(c => c == 1 ? 40 : 10 * c).ToArray();
        if (requests.Length == 1 && levels.Length > 1)
        {
            requests = Enumerable.Repeat(requests[0], levels.Length).ToArray();
        }

        if (requests.Length != levels.Length || levels.Any(c => c < 1) || requests.Any(n => n < 1))
        {
            Console.Error.WriteLine("--requests needs one positive count, or one per --concurrency level; levels must be >= 1");
            return 2;
        }

        return RunAsync(levels, requests, Command(args)).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int[] levels, int[] requests, string command)
    {
        var total = Stopwatch.StartNew();
        string modelDir = BundledModelLocator.Find()
            ?? throw new InvalidOperationException($"bundled model not found ({BundledModelLocator.RelativePath}); run from the repository");
        Console.Error.WriteLine($"Loading {modelDir} and starting the gateway ...");
        using WorkerHost host = WorkerHost.Start(new WorkerOptions { ModelDir = modelDir, KvCacheMemory = "256MiB" }, new EngineOptions(), ModelName);
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            new GatewayOptions { HttpPort = 0, GrpcPort = 0, UsageLog = null, ResponseCache = false },
            new GatewayDependencies { Workers = [new LocalWorker(host, ownsHost: false)] },
            logging: b => b.AddFilter(_ => false));

        // One pooled connection per concurrent request (HTTP/1.1 SSE); one multiplexed HTTP/2 channel for gRPC.
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = gateway.HttpAddress,
            Timeout = TimeSpan.FromMinutes(2),
        };
        using GrpcChannel channel = GrpcChannel.ForAddress(gateway.GrpcAddress!);
        var clients = new Clients(host, host.Tokenize(Prompt), http, new InferenceService.InferenceServiceClient(channel));
        Console.Error.WriteLine($"HTTP {gateway.HttpAddress}, gRPC {gateway.GrpcAddress}; prompt {clients.PromptIds.Length} tokens, {host.Info.KvBlocksTotal} KV blocks, torch threads {get_num_threads()}, {Environment.ProcessorCount} cores");

        Console.Error.WriteLine("Warm-up ...");
        var discard = new List<Sample>();
        for (int path = 0; path < PathNames.Length; path++)
        {
            for (int i = 0; i < WarmupRequests; i++)
            {
                await RunRound(clients, path, 1, discard);
            }

            await RunRound(clients, path, levels.Max(), discard);
        }

        var results = new List<LevelResult>();
        for (int l = 0; l < levels.Length; l++)
        {
            results.Add(await RunLevel(clients, levels[l], requests[l]));
        }

        Print(command, clients.PromptIds.Length, results, total.Elapsed);
        return 0;
    }

    private static async Task<LevelResult> RunLevel(Clients clients, int concurrency, int requests)
    {
        var result = new LevelResult(concurrency, requests);
        int rounds = (requests + concurrency - 1) / concurrency;
        for (int round = 0; round < rounds; round++)
        {
            int size = Math.Min(concurrency, requests - (round * concurrency));
            for (int path = 0; path < PathNames.Length; path++)
            {
                result.WallSeconds[path] += await RunRound(clients, path, size, result.Samples[path]);
            }

            Console.Error.Write($"\r  concurrency {concurrency}: round {round + 1}/{rounds}   ");
        }

        Console.Error.WriteLine();
        return result;
    }

    /// <summary>Runs <paramref name="size"/> simultaneous requests on one path; returns the round's wall time in seconds.</summary>
    private static async Task<double> RunRound(Clients clients, int path, int size, List<Sample> into)
    {
        var tasks = new Task<Sample>[size];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < size; i++)
        {
            tasks[i] = path switch
            {
                0 => RunDirect(clients),
                1 => RunHttp(clients),
                _ => RunGrpc(clients),
            };
        }

        Sample[] samples = await Task.WhenAll(tasks);
        double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        into.AddRange(samples);
        return wall;
    }

    private static async Task<Sample> RunDirect(Clients clients)
    {
        var request = new GenerationRequest
        {
            RequestId = $"bench-{clients.NextId()}",
            PromptTokens = clients.PromptIds,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = OutputTokens, MinTokens = OutputTokens },
        };
        long start = Stopwatch.GetTimestamp();
        long first = 0;
        int events = 0;
        int completionTokens = -1;
        await foreach (ServedEvent e in clients.Host.Generate(request))
        {
            events++;
            if (e.Error is not null)
            {
                throw new InvalidOperationException($"{request.RequestId} failed: {e.Error}");
            }

            if (first == 0 && e.Text.Length > 0)
            {
                first = Stopwatch.GetTimestamp();
            }

            if (e.Usage is { } usage)
            {
                completionTokens = usage.CompletionTokens;
            }
        }

        return Finish("direct", start, first, events, completionTokens);
    }

    private static async Task<Sample> RunHttp(Clients clients)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new ByteArrayContent(clients.HttpBody) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        long start = Stopwatch.GetTimestamp();
        long first = 0;
        int events = 0;
        int completionTokens = -1;
        bool done = false;
        using HttpResponseMessage response = await clients.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.AsSpan(6).SequenceEqual("[DONE]"))
            {
                done = true;
                break;
            }

            events++;
            if (line.Contains("\"error\":{", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"HTTP stream failed: {line}");
            }

            // A substring scan, not a JSON parse: the client's cost should stay small next to the server's.
            int text = line.IndexOf("\"text\":\"", StringComparison.Ordinal);
            if (first == 0 && text >= 0 && text + 8 < line.Length && line[text + 8] != '"')
            {
                first = Stopwatch.GetTimestamp();
            }

            const string CompletionTokensField = "\"completion_tokens\":";
            int usage = line.IndexOf(CompletionTokensField, StringComparison.Ordinal);
            if (usage >= 0)
            {
                ReadOnlySpan<char> digits = line.AsSpan(usage + CompletionTokensField.Length);
                int end = digits.IndexOfAnyExceptInRange('0', '9');
                completionTokens = int.Parse(end < 0 ? digits : digits[..end], CultureInfo.InvariantCulture);
            }
        }

        return done ? Finish("HTTP", start, first, events, completionTokens) : throw new InvalidOperationException("HTTP stream ended without [DONE]");
    }

    private static async Task<Sample> RunGrpc(Clients clients)
    {
        long start = Stopwatch.GetTimestamp();
        long first = 0;
        int messages = 0;
        int completionTokens = -1;
        using AsyncServerStreamingCall<CompletionChunk> call = clients.Grpc.Complete(clients.GrpcRequest);
        await foreach (CompletionChunk chunk in call.ResponseStream.ReadAllAsync())
        {
            messages++;
            if (first == 0)
            {
                foreach (ChoiceDelta choice in chunk.Choices)
                {
                    if (choice.Text.Length > 0)
                    {
                        first = Stopwatch.GetTimestamp();
                        break;
                    }
                }
            }

            if (chunk.Usage is { } usage)
            {
                completionTokens = usage.CompletionTokens;
            }
        }

        return Finish("gRPC", start, first, messages, completionTokens);
    }

    private static Sample Finish(string path, long start, long first, int events, int completionTokens)
    {
        long end = Stopwatch.GetTimestamp();
        if (completionTokens != OutputTokens)
        {
            throw new InvalidOperationException($"{path}: {completionTokens} completion tokens reported, expected {OutputTokens}");
        }

        if (first == 0)
        {
            throw new InvalidOperationException($"{path}: no event carried text");
        }

        return new Sample(
            (double)(first - start) / Stopwatch.Frequency * 1000,
            (double)(end - start) / Stopwatch.Frequency * 1000,
            events);
    }

    private static void Print(string command, int promptTokens, List<LevelResult> levels, TimeSpan total)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"Command: `{command}`");
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Gateway overhead: model {ModelName} on {Environment.ProcessorCount} cores (torch threads {get_num_threads()}), one process (worker, gateway and clients); fixed {promptTokens}-token prompt, exactly {OutputTokens} output tokens (min_tokens = max_tokens), temperature 0, response cache off."));
        Console.WriteLine("Paths interleaved per round (direct, HTTP, gRPC); a round is one request at concurrency 1, one wave of `concurrency` simultaneous requests above it.");
        Console.WriteLine("TTFT = time to the first event carrying text; total = until the stream ends ([DONE] for HTTP). Percentiles are nearest-rank (below 100 samples p99 is the slowest request). Added = path percentile minus direct percentile.");
        Console.WriteLine("Stream events: direct = worker events (incl. the usage event), HTTP = SSE `data:` events (incl. the usage chunk, not [DONE]), gRPC = messages (incl. the usage message). Rates divide by the summed wall time of the path's rounds.");
        foreach (LevelResult level in levels)
        {
            Console.WriteLine();
            Console.WriteLine(string.Create(inv, $"Concurrency {level.Concurrency}, {level.Requests} requests per path:"));
            Console.WriteLine();
            Console.WriteLine("| path | TTFT p50 ms | TTFT p99 ms | total p50 ms | total p99 ms | added TTFT p50 / p99 ms | added total p50 / p99 ms | output tok/s | vs direct | events/request | stream events/s |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            Stats direct = level.Summarize(0);
            for (int path = 0; path < PathNames.Length; path++)
            {
                Stats s = level.Summarize(path);
                string added = path == 0
                    ? "- | -"
                    : string.Create(inv, $"{s.TtftP50 - direct.TtftP50:+0.00;-0.00} / {s.TtftP99 - direct.TtftP99:+0.00;-0.00} | {s.TotalP50 - direct.TotalP50:+0.00;-0.00} / {s.TotalP99 - direct.TotalP99:+0.00;-0.00}");
                string eventsLabel = path switch { 0 => "worker events", 1 => "SSE events", _ => "messages" };
                Console.WriteLine(string.Create(inv, $"| {PathNames[path]} | {s.TtftP50:F2} | {s.TtftP99:F2} | {s.TotalP50:F2} | {s.TotalP99:F2} | {added} | {s.TokensPerSecond:F1} | {s.TokensPerSecond / direct.TokensPerSecond:F3}x | {s.EventsPerRequest:F1} | {s.EventsPerSecond:F1} {eventsLabel}/s |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Total bench time {total.TotalSeconds:F0} s."));
    }

    /// <summary>The command line that reproduces this run (the artifacts path is recovered from where the bench runs).</summary>
    private static string Command(string[] args)
    {
        string baseDir = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        string? binDir = Path.GetDirectoryName(Path.GetDirectoryName(baseDir));
        string artifacts = Path.GetFileName(Path.GetDirectoryName(baseDir)) == "Inference.Bench" && Path.GetFileName(binDir) == "bin"
            ? $" --artifacts-path {Path.GetDirectoryName(binDir)}"
            : string.Empty;
        // bin/Release/net10.0 (default layout) or bin/Inference.Bench/release (artifacts layout).
        bool release = baseDir.Split(Path.DirectorySeparatorChar).Any(s => s.StartsWith("release", StringComparison.OrdinalIgnoreCase));
        string c = release ? "Release" : "Debug";
        string rest = args.Length == 0 ? string.Empty : " " + string.Join(' ', args);
        return $"dotnet run -c {c} --project bench/Inference.Bench{artifacts} -- gateway{rest}";
    }

    private static int[] ParseList(string value) =>
        value.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    private static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)]; // nearest rank

    /// <summary>What every path needs, built once: the tokenized prompt for the direct path, the request bodies for the others.</summary>
    private sealed class Clients(WorkerHost host, int[] promptIds, HttpClient http, InferenceService.InferenceServiceClient grpc)
    {
        private long _nextId;

        public WorkerHost Host { get; } = host;

        public int[] PromptIds { get; } = promptIds;

        public HttpClient Http { get; } = http;

        public InferenceService.InferenceServiceClient Grpc { get; } = grpc;

        public byte[] HttpBody { get; } = Encoding.UTF8.GetBytes(
            $$$"""{"model":"{{{ModelName}}}","prompt":{{{JsonSerializer.Serialize(Prompt)}}},"max_tokens":{{{OutputTokens}}},"min_tokens":{{{OutputTokens}}},"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""");

        public CompleteRequest GrpcRequest { get; } = new()
        {
            Model = ModelName,
            Text = Prompt,
            Sampling = new SamplingOptions { MaxTokens = OutputTokens, MinTokens = OutputTokens, Temperature = 0 },
        };

        public long NextId() => Interlocked.Increment(ref _nextId);
    }

    private sealed record Sample(double TtftMs, double TotalMs, int Events);

    private sealed record Stats(double TtftP50, double TtftP99, double TotalP50, double TotalP99, double TokensPerSecond, double EventsPerRequest, double EventsPerSecond);

    private sealed class LevelResult(int concurrency, int requests)
    {
        public int Concurrency { get; } = concurrency;

        public int Requests { get; } = requests;

        public List<Sample>[] Samples { get; } = [[], [], []];

        public double[] WallSeconds { get; } = new double[3];

        public Stats Summarize(int path)
        {
            List<Sample> samples = Samples[path];
            double[] ttft = samples.Select(s => s.TtftMs).Order().ToArray();
            double[] totalMs = samples.Select(s => s.TotalMs).Order().ToArray();
            long events = samples.Sum(s => (long)s.Events);
            return new Stats(
                Percentile(ttft, 0.50),
                Percentile(ttft, 0.99),
                Percentile(totalMs, 0.50),
                Percentile(totalMs, 0.99),
                samples.Count * OutputTokens / WallSeconds[path],
                (double)events / samples.Count,
                events / WallSeconds[path]);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Bench;

/// <summary>
/// End to end through the <see cref="EngineLoop"/> on a generated ~25M-parameter Llama on CPU:
/// closed-loop clients (submit, read to the end, repeat; 64-token random prompts, 64 output tokens,
/// ignore_eos, greedy) at several concurrency levels, then a shared-prefix workload (a 512-token
/// prefix plus 16 unique tokens, sequential requests, 8 output tokens) with prefix caching on and off.
/// Progress goes to stderr, the markdown tables to stdout.
/// Run: dotnet run -c Release --project bench/Inference.Bench -- engine [--concurrency 1,8,32] [--seconds 25] [--prefix-requests 16] [--threads N] [--model DIR]
/// </summary>
internal static class EngineBenchmark
{
    private const int PromptLength = 64;
    private const int OutputLength = 64;
    private const int SharedPrefixLength = 512;
    private const int UniqueSuffixLength = 16;
    private const int PrefixOutputLength = 8;
    private const int PrefixRounds = 2;

    public static int Run(string[] args)
    {
        int[] levels = [1, 8, 32];
        double seconds = 25;
        int prefixRequests = 16;
        int threads = 0;
        string? model = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--concurrency":
                    levels = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--seconds":
                    seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--prefix-requests":
                    prefixRequests = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--threads":
                    threads = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--model":
                    model = args[i + 1];
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

        return RunAsync(levels, seconds, prefixRequests, threads, model).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int[] levels, double seconds, int prefixRequests, int threads, string? model)
    {
        if (threads > 0)
        {
            set_num_threads(threads);
        }

        var total = Stopwatch.StartNew();
        string dir = model ?? Path.Combine(Path.GetTempPath(), "engine-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            if (model is null)
            {
                Console.Error.WriteLine("Generating the ~25M model (random weights) ...");
                RandomModelWriter.Write(dir, RuntimeBenchmark.Model25M(), seed: 1);
            }

            using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = dir, KvCacheMemory = "128MiB", MaxNumBatchedTokens = 2048 });
            s_vocab = runtime.Config.VocabSize;
            if (runtime.Model.MaxModelLength < SharedPrefixLength + UniqueSuffixLength + PrefixOutputLength)
            {
                prefixRequests = 0; // the shared-prefix workload does not fit this model's context
            }

            Console.Error.WriteLine($"Loaded: {runtime.Model.WeightBytes / 4 / 1e6:F1}M parameters, {runtime.Cache.NumBlocks} KV blocks of {runtime.Cache.BlockSize}, torch threads {get_num_threads()}, {Environment.ProcessorCount} cores");

            var levelResults = new List<LevelResult>();
            using (EngineLoop engine = NewEngine(runtime, prefixCaching: true))
            {
                Console.Error.WriteLine("Warm-up ...");
                var warmRandom = new Random(99);
                await RunOne(engine, "warm-0", RandomTokens(warmRandom, PromptLength), OutputLength);
                if (prefixRequests > 0)
                {
                    await RunOne(engine, "warm-1", RandomTokens(warmRandom, SharedPrefixLength + UniqueSuffixLength), PrefixOutputLength);
                }
                foreach (int level in levels)
                {
                    levelResults.Add(await RunLevel(engine, level, seconds));
                }
            }

            // Prefix caching off and on, alternating the order per round so that drift in the machine's
            // load does not favour one side; each round uses its own shared prefix and fresh engines.
            var ttft = new Dictionary<bool, List<PrefixRequest>> { [false] = [], [true] = [] };
            for (int round = 0; round < PrefixRounds && prefixRequests > 0; round++)
            {
                foreach (bool caching in round % 2 == 0 ? new[] { false, true } : [true, false])
                {
                    ttft[caching].AddRange(await RunPrefix(runtime, caching, round, prefixRequests));
                }
            }

            Print(levelResults, ttft, seconds, prefixRequests, total.Elapsed);
            return 0;
        }
        finally
        {
            if (model is null && Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static EngineLoop NewEngine(ModelRuntime runtime, bool prefixCaching) =>
        new(runtime, new EngineOptions { EnablePrefixCaching = prefixCaching }, TimeProvider.System, new Random(1));

    private static async Task<LevelResult> RunLevel(EngineLoop engine, int concurrency, double seconds)
    {
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(seconds * Stopwatch.Frequency);
        long stepsBefore = engine.Stats.Steps;
        var clients = new Task<ClientResult>[concurrency];
        for (int c = 0; c < concurrency; c++)
        {
            int client = c;
            clients[c] = Task.Run(() => RunClient(engine, concurrency, client, start, deadline));
        }

        Task all = Task.WhenAll(clients);
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(1000));
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r  concurrency {concurrency}: {Math.Min(elapsed, seconds):F0}/{seconds:F0} s{(elapsed > seconds ? " (draining)" : string.Empty)}   "));
        }

        Console.Error.WriteLine();
        long steps = engine.Stats.Steps - stepsBefore;
        ClientResult[] results = await Task.WhenAll(clients);
        return new LevelResult(
            concurrency,
            results.Sum(r => r.Requests),
            results.Sum(r => r.TokensInWindow),
            seconds,
            results.Sum(r => r.TtftSeconds),
            results.Sum(r => r.GapSeconds),
            results.Sum(r => r.Gaps),
            steps,
            Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static async Task<ClientResult> RunClient(EngineLoop engine, int concurrency, int client, long start, long deadline)
    {
        var random = new Random((concurrency * 1000) + client);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = OutputLength, IgnoreEos = true };
        var result = new ClientResult();
        for (int n = 0; Stopwatch.GetTimestamp() < deadline; n++)
        {
            var request = new GenerationRequest { RequestId = $"c{concurrency}-{client}-{n}", PromptTokens = RandomTokens(random, PromptLength), Sampling = sampling };
            GenerationStream stream = Submit(engine, request);
            long previous = 0;
            int tokens = 0;
            await foreach (GenerationDelta delta in stream.ReadAllAsync())
            {
                if (delta.TokenId < 0)
                {
                    continue;
                }

                tokens++;
                if (delta.Timestamp >= start && delta.Timestamp < deadline)
                {
                    result.TokensInWindow++;
                }

                if (previous != 0)
                {
                    result.GapSeconds += (double)(delta.Timestamp - previous) / Stopwatch.Frequency;
                    result.Gaps++;
                }

                previous = delta.Timestamp;
            }

            RequestUsage usage = stream.Usage ?? throw new InvalidOperationException($"{request.RequestId} ended without usage");
            if (tokens != OutputLength)
            {
                throw new InvalidOperationException($"{request.RequestId} produced {tokens} tokens, expected {OutputLength}");
            }

            result.Requests++;
            result.TtftSeconds += usage.TimeToFirstToken.TotalSeconds;
        }

        return result;
    }

    private static async Task<List<PrefixRequest>> RunPrefix(ModelRuntime runtime, bool caching, int round, int requests)
    {
        using EngineLoop engine = NewEngine(runtime, caching);
        var random = new Random(500 + round);
        int[] shared = RandomTokens(random, SharedPrefixLength);

        // Warm this engine's thread and the prefill shapes on an unrelated prompt of the same length.
        await RunOne(engine, $"prefix-warm-{round}-{caching}", RandomTokens(new Random(900 + round), SharedPrefixLength + UniqueSuffixLength), PrefixOutputLength);
        var results = new List<PrefixRequest>(requests);
        for (int i = 0; i < requests; i++)
        {
            int[] prompt = [.. shared, .. RandomTokens(random, UniqueSuffixLength)];
            RequestUsage usage = await RunOne(engine, $"prefix-{round}-{caching}-{i}", prompt, PrefixOutputLength);
            results.Add(new PrefixRequest(i, usage.TimeToFirstToken.TotalSeconds, usage.CachedPromptTokens));
            Console.Error.Write($"\r  prefix caching {(caching ? "on " : "off")}, round {round + 1}/{PrefixRounds}: request {i + 1}/{requests}   ");
        }

        Console.Error.WriteLine();
        return results;
    }

    private static async Task<RequestUsage> RunOne(EngineLoop engine, string id, int[] prompt, int maxTokens)
    {
        var request = new GenerationRequest
        {
            RequestId = id,
            PromptTokens = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        };
        GenerationStream stream = Submit(engine, request);
        await foreach (GenerationDelta delta in stream.ReadAllAsync())
        {
            if (delta.Error is not null)
            {
                throw new InvalidOperationException($"{id} failed: {delta.Error}");
            }
        }

        return stream.Usage ?? throw new InvalidOperationException($"{id} ended without usage");
    }

    private static GenerationStream Submit(EngineLoop engine, GenerationRequest request)
    {
        return engine.Submit(request, out GenerationStream? stream) is Refusal refusal
            ? throw new InvalidOperationException($"{request.RequestId} refused ({refusal.Kind}): {refusal.Message}")
            : stream!;
    }

    // The loaded model's vocabulary (set once, before any prompt is made).
    private static int s_vocab = 32_000;

    private static int[] RandomTokens(Random random, int length)
    {
        // Above the synthetic tokenizer's special and byte tokens, so prompts are plain text pieces.
        int[] tokens = new int[length];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = random.Next(Math.Min(1000, s_vocab / 4), s_vocab);
        }

        return tokens;
    }

    private static void Print(List<LevelResult> levels, Dictionary<bool, List<PrefixRequest>> prefix, double seconds, int prefixRequests, TimeSpan total)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Closed loop, {PromptLength}-token prompts, {OutputLength} output tokens (ignore_eos, greedy), {seconds:F0} s per level; tok/s counts tokens emitted inside the window."));
        Console.WriteLine();
        Console.WriteLine("| concurrency | requests done | output tok/s | vs 1 | mean TTFT ms | mean inter-token ms | engine steps/s |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        double baseline = levels.Count > 0 ? levels[0].TokensPerSecond : 0;
        foreach (LevelResult l in levels)
        {
            Console.WriteLine(string.Create(inv, $"| {l.Concurrency} | {l.Requests} | {l.TokensPerSecond:F1} | {l.TokensPerSecond / baseline:F2}x | {l.MeanTtftMs:F1} | {l.MeanItlMs:F2} | {l.Steps / l.ElapsedSeconds:F1} |"));
        }

        if (prefixRequests == 0)
        {
            Console.WriteLine(string.Create(inv, $"Shared prefix: skipped (off, or the model's context is under {SharedPrefixLength + UniqueSuffixLength + PrefixOutputLength} tokens)."));
            Console.WriteLine(string.Create(inv, $"Total bench time {total.TotalSeconds:F0} s."));
            return;
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Shared prefix: {prefixRequests} sequential requests x {PrefixRounds} rounds per setting, each = the round's {SharedPrefixLength}-token prefix + {UniqueSuffixLength} unique tokens, {PrefixOutputLength} output tokens; fresh engine per round (first request of a round is a miss either way)."));
        Console.WriteLine();
        Console.WriteLine("| prefix caching | mean TTFT ms (all) | mean TTFT ms (requests 2..n) | mean cached prompt tokens |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (bool caching in new[] { false, true })
        {
            List<PrefixRequest> r = prefix[caching];
            Console.WriteLine(string.Create(inv, $"| {(caching ? "on" : "off")} | {MeanMs(r, all: true):F1} | {MeanMs(r, all: false):F1} | {r.Average(x => x.CachedTokens):F0} |"));
        }

        double ratioAll = MeanMs(prefix[false], all: true) / MeanMs(prefix[true], all: true);
        double ratioHits = MeanMs(prefix[false], all: false) / MeanMs(prefix[true], all: false);
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"TTFT ratio off/on: {ratioAll:F2}x over all requests, {ratioHits:F2}x over requests 2..n (cache hits)."));
        Console.WriteLine(string.Create(inv, $"Total bench time {total.TotalSeconds:F0} s."));
    }

    private static double MeanMs(List<PrefixRequest> requests, bool all) =>
        requests.Where(r => all || r.Index > 0).Average(r => r.TtftSeconds) * 1000;

    private sealed class ClientResult
    {
        public int Requests { get; set; }

        public long TokensInWindow { get; set; }

        public double TtftSeconds { get; set; }

        public double GapSeconds { get; set; }

        public long Gaps { get; set; }
    }

    private sealed record LevelResult(int Concurrency, int Requests, long TokensInWindow, double WindowSeconds, double TtftSecondsSum, double GapSecondsSum, long Gaps, long Steps, double ElapsedSeconds)
    {
        public double TokensPerSecond => TokensInWindow / WindowSeconds;

        public double MeanTtftMs => Requests == 0 ? double.NaN : TtftSecondsSum / Requests * 1000;

        public double MeanItlMs => Gaps == 0 ? double.NaN : GapSecondsSum / Gaps * 1000;
    }

    private sealed record PrefixRequest(int Index, double TtftSeconds, int CachedTokens);
}

using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Inference.Worker.Engine;
using Inference.Worker.KvCache;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Bench;

/// <summary>
/// Prefill and decode throughput of the worker runtime at several batch sizes on a generated model
/// (~25M parameters by default), with the memory-bandwidth roofline of each decode step: a decode
/// step must read every weight once, so tokens/s can never beat batch * bandwidth / weight bytes.
/// </summary>
internal static class RuntimeBenchmark
{
    public static ModelConfig Model25M() => new()
    {
        Architecture = ModelArchitecture.Llama,
        ArchitectureName = "LlamaForCausalLM",
        VocabSize = 32000,
        HiddenSize = 384,
        IntermediateSize = 1024,
        NumHiddenLayers = 8,
        NumAttentionHeads = 6,
        NumKeyValueHeads = 2,
        HeadDim = 64,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 2048,
        TieWordEmbeddings = true,
        AttentionBias = false,
    };

    public static int Run(int[] batchSizes, int promptLength, int decodeSteps, int threads, string? modelDir, bool hostKernels = true, string device = "cpu", string? pipelineLayers = null, string dtype = "float32")
    {
        if (threads > 0)
        {
            set_num_threads(threads);
        }

        string? generated = null;
        if (modelDir is null)
        {
            ModelConfig generatedConfig = Model25M();
            generated = Path.Combine(Path.GetTempPath(), "runtime-bench-" + Guid.NewGuid().ToString("N"));
            Console.WriteLine($"Generating model: {Describe(generatedConfig)} ...");
            RandomModelWriter.Write(generated, generatedConfig, seed: 1);
            modelDir = generated;
        }

        try
        {
            int maxBatch = batchSizes.Max();
            using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions
            {
                ModelDir = modelDir,
                Device = device,
                PipelineLayers = pipelineLayers,
                Dtype = dtype,
                KvCacheMemory = $"{Math.Max(64, maxBatch * (promptLength + decodeSteps + 64) / 16 * 2)}MiB",
                MaxModelLength = Math.Min(promptLength + decodeSteps + 32, int.MaxValue),
            });
            ModelConfig config = runtime.Config;
            runtime.Model.UseHostKernels = hostKernels;

            ScalarType weightType = runtime.Model.Dtype;
            long parameters = runtime.Model.WeightBytes / ElementSize(weightType);
            double bandwidth = MeasureBandwidth(runtime.Model.Stages[0].Device);
            Console.WriteLine($"Model: {Describe(config)}");
            Console.WriteLine($"Pipeline: {runtime.Model.Stages.Count} stage(s): {PipelineStage.Describe(runtime.Model.Stages)}");
            Console.WriteLine($"Parameters: {parameters / 1e6:F1}M; weight bytes per step: {runtime.Model.WeightBytes / 1e6:F1} MB; torch threads: {get_num_threads()}");
            Console.WriteLine($"Measured memory bandwidth of {runtime.Model.Stages[0].Device} (large tensor copy): {bandwidth / 1e9:F1} GB/s; weights {weightType}");
            Console.WriteLine($"Driven through EngineCore.Step (the production step: schedule, forward, sample, update), greedy, no thread; decode path: {(hostKernels ? "host kernels" : "libtorch ops (reference)")}.");
            Console.WriteLine();
            Console.WriteLine("| batch | prefill tok/s | prefill ms/step | decode tok/s | decode ms/step | plan ms | forward ms | sample ms | other ms (update, events) | overhead % | decode roofline tok/s | % of roofline |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

            foreach (int batch in batchSizes)
            {
                (double prefillSeconds, double decodeSeconds, int prefillSteps, (double plan, double forward, double sample)) = RunBatch(runtime, batch, promptLength, decodeSteps);
                double prefillTps = batch * promptLength / prefillSeconds;
                double decodeTps = batch * decodeSteps / decodeSeconds;
                double stepMs = decodeSeconds * 1000 / decodeSteps;

                // KV bytes read per decode step at the mid-point context length.
                long kvBytes = PagedKvCache.BytesPerBlockFor(config.NumHiddenLayers, 1, config.NumKeyValueHeads, config.HeadDim, weightType)
                    * batch * (promptLength + (decodeSteps / 2));
                double roofline = batch / ((runtime.Model.WeightBytes + kvBytes) / bandwidth);
                double other = stepMs - plan - forward - sample;
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {batch} | {prefillTps:F0} | {prefillSeconds * 1000 / prefillSteps:F1} | {decodeTps:F0} | {stepMs:F2} | {plan:F3} | {forward:F3} | {sample:F3} | {other:F3} | {100 * (stepMs - forward - sample) / stepMs:F0}% | {roofline:F0} | {100 * decodeTps / roofline:F0}% |"));
            }
        }
        finally
        {
            if (generated is not null)
            {
                Directory.Delete(generated, recursive: true);
            }
        }

        return 0;
    }

    // Split: mean plan, forward and sample ms of the decode steps (the rest of a step is the core's update).
    private static (double Prefill, double Decode, int PrefillSteps, (double Plan, double Forward, double Sample) Split) RunBatch(ModelRuntime runtime, int batch, int promptLength, int decodeSteps)
    {
        var random = new Random(batch);
        int[] Prompt()
        {
            int[] prompt = new int[promptLength];
            for (int j = 0; j < promptLength; j++)
            {
                prompt[j] = random.Next(runtime.Config.VocabSize);
            }

            return prompt;
        }

        var options = new EngineOptions { EnablePrefixCaching = false };

        // One warm-up request so allocator and kernels are warm.
        var warm = new EngineCore(runtime, options, TimeProvider.System, new Random(0));
        Add(warm, "warm", Prompt(), 4);
        while (warm.HasWork)
        {
            warm.Step();
        }

        var core = new EngineCore(runtime, options, TimeProvider.System, new Random(0));
        var streams = new List<ChannelReader<EngineEvent>>();
        for (int i = 0; i < batch; i++)
        {
            streams.Add(Add(core, $"r{i}", Prompt(), decodeSteps + 1));
        }

        // Prefill: until every request has its first token.
        var clock = Stopwatch.StartNew();
        int prefillSteps = 0;
        var started = new bool[batch];
        int startedCount = 0;
        while (startedCount < batch)
        {
            core.Step();
            prefillSteps++;
            for (int i = 0; i < batch; i++)
            {
                while (streams[i].TryRead(out EngineEvent e))
                {
                    if (e.HasToken && !started[i])
                    {
                        started[i] = true;
                        startedCount++;
                    }
                }
            }
        }

        double prefill = clock.Elapsed.TotalSeconds;
        clock.Restart();
        double forwardUs = 0, sampleUs = 0, planUs = 0;
        for (int step = 0; step < decodeSteps; step++)
        {
            core.Step();
            forwardUs += core.Stats.ForwardMicros;
            sampleUs += core.Stats.SampleMicros;
            planUs += core.Stats.PlanMicros;
            foreach (ChannelReader<EngineEvent> s in streams)
            {
                while (s.TryRead(out _))
                {
                }
            }

            if (step % 16 == 15)
            {
                Console.Error.Write($"\r  batch {batch}: decode step {step + 1}/{decodeSteps}   ");
            }
        }

        double decode = clock.Elapsed.TotalSeconds;
        Console.Error.Write("\r" + new string(' ', 60) + "\r");
        for (int i = 0; i < batch; i++)
        {
            core.Abort($"r{i}");
        }

        return (prefill, decode, prefillSteps, (planUs / decodeSteps / 1e3, forwardUs / decodeSteps / 1e3, sampleUs / decodeSteps / 1e3));
    }

    private static ChannelReader<EngineEvent> Add(EngineCore core, string id, int[] prompt, int maxTokens)
    {
        var request = new GenerationRequest
        {
            RequestId = id,
            PromptTokens = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        };
        if (core.Add(request, out ChannelReader<EngineEvent>? events) is { } refusal)
        {
            throw new InvalidOperationException($"benchmark request refused: {refusal.Message}");
        }

        return events!;
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Float64 => 8,
        _ => 4,
    };

    private static double MeasureBandwidth(Device device)
    {
        using var scope = NewDisposeScope();
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        Tensor source = ones(cuda ? 256L * 1024 * 1024 : 64L * 1024 * 1024, ScalarType.Float32, device);
        Tensor target = empty_like(source);
        target.copy_(source);
        Sync(target, cuda);
        var clock = Stopwatch.StartNew();
        const int Repeats = 10;
        for (int i = 0; i < Repeats; i++)
        {
            target.copy_(source);
        }

        Sync(target, cuda);

        // A copy reads and writes every byte.
        return 2.0 * source.NumberOfElements * 4 * Repeats / clock.Elapsed.TotalSeconds;
    }

    // CUDA kernels run asynchronously: reading one element back waits for every copy queued before it.
    private static void Sync(Tensor t, bool cuda)
    {
        if (cuda)
        {
            _ = t[0].cpu().item<float>();
        }
    }

    private static string Describe(ModelConfig c) =>
        $"{c.ArchitectureName} hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} kv, vocab {c.VocabSize}, tied embeddings";
}

using System.Diagnostics;
using System.Globalization;
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

    public static int Run(int[] batchSizes, int promptLength, int decodeSteps, int threads)
    {
        if (threads > 0)
        {
            set_num_threads(threads);
        }

        ModelConfig config = Model25M();
        Console.WriteLine($"Generating model: {Describe(config)} ...");
        using LlamaModel model = LlamaModel.Load(config, new RandomWeightSource(seed: 1), ScalarType.Float32, CPU, maxModelLength: 1024);
        long parameters = model.WeightBytes / 4;
        double bandwidth = MeasureBandwidth();
        Console.WriteLine($"Parameters: {parameters / 1e6:F1}M; weight bytes per step: {model.WeightBytes / 1e6:F1} MB; torch threads: {get_num_threads()}");
        Console.WriteLine($"Measured memory bandwidth (large tensor copy): {bandwidth / 1e9:F1} GB/s");
        Console.WriteLine();
        Console.WriteLine("| batch | prefill tok/s | prefill ms/step | decode tok/s | decode ms/step | decode roofline tok/s | % of roofline |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");

        foreach (int batch in batchSizes)
        {
            using var cache = PagedKvCache.Create(
                config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, ScalarType.Float32, CPU,
                PagedKvCache.BytesPerBlockFor(config.NumHiddenLayers, 16, config.NumKeyValueHeads, config.HeadDim, ScalarType.Float32)
                    * batch * ((promptLength + decodeSteps + 32) / 16 + 1));
            (double prefillSeconds, double decodeSeconds, int prefillSteps) = RunBatch(model, cache, batch, promptLength, decodeSteps);
            double prefillTps = batch * promptLength / prefillSeconds;
            double decodeTps = batch * decodeSteps / decodeSeconds;
            double stepMs = decodeSeconds * 1000 / decodeSteps;

            // KV bytes read per decode step at the mid-point context length.
            long kvBytes = PagedKvCache.BytesPerBlockFor(config.NumHiddenLayers, 1, config.NumKeyValueHeads, config.HeadDim, ScalarType.Float32)
                * batch * (promptLength + (decodeSteps / 2));
            double roofline = batch / ((model.WeightBytes + kvBytes) / bandwidth);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {batch} | {prefillTps:F0} | {prefillSeconds * 1000 / prefillSteps:F1} | {decodeTps:F0} | {stepMs:F2} | {roofline:F0} | {100 * decodeTps / roofline:F0}% |"));
        }

        return 0;
    }

    private static (double Prefill, double Decode, int PrefillSteps) RunBatch(LlamaModel model, PagedKvCache cache, int batch, int promptLength, int decodeSteps)
    {
        var sequences = new List<GenerationSequence>();
        var random = new Random(batch);
        for (int i = 0; i < batch; i++)
        {
            int[] prompt = new int[promptLength];
            for (int j = 0; j < promptLength; j++)
            {
                prompt[j] = random.Next(model.Config.VocabSize);
            }

            sequences.Add(new GenerationSequence(i, prompt, new SamplingParams { Temperature = 0, MaxTokens = decodeSteps + 1, IgnoreEos = true }));
        }

        // One warm-up run on a throwaway sequence so allocator and kernels are warm.
        var warm = new Inference.Worker.Runtime.Generator(model, cache, [], new Random(0), maxBatchedTokens: 2048);
        var warmSeq = new GenerationSequence(-1, sequences[0].PromptTokens, new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true });
        warm.RunToCompletion([warmSeq]);

        var generator = new Inference.Worker.Runtime.Generator(model, cache, [], new Random(0), maxBatchedTokens: 2048);
        var clock = Stopwatch.StartNew();
        int prefillSteps = 0;
        while (sequences.Exists(s => s.NumComputed < s.PromptTokens.Count))
        {
            generator.Step(sequences);
            prefillSteps++;
        }

        double prefill = clock.Elapsed.TotalSeconds;
        clock.Restart();
        for (int step = 0; step < decodeSteps; step++)
        {
            generator.Step(sequences);
            if (step % 16 == 15)
            {
                Console.Error.Write($"\r  batch {batch}: decode step {step + 1}/{decodeSteps}   ");
            }
        }

        double decode = clock.Elapsed.TotalSeconds;
        Console.Error.Write("\r" + new string(' ', 60) + "\r");
        foreach (GenerationSequence s in sequences)
        {
            generator.Abort(s);
        }

        return (prefill, decode, prefillSteps);
    }

    private static double MeasureBandwidth()
    {
        using var scope = NewDisposeScope();
        Tensor source = ones(64L * 1024 * 1024, ScalarType.Float32);
        Tensor target = empty_like(source);
        target.copy_(source);
        var clock = Stopwatch.StartNew();
        const int Repeats = 10;
        for (int i = 0; i < Repeats; i++)
        {
            target.copy_(source);
        }

        // A copy reads and writes every byte.
        return 2.0 * source.NumberOfElements * 4 * Repeats / clock.Elapsed.TotalSeconds;
    }

    private static string Describe(ModelConfig c) =>
        $"{c.ArchitectureName} hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} kv, vocab {c.VocabSize}, tied embeddings";
}

using System.Diagnostics;
using System.Globalization;
using Inference.Worker.KvCache;
using Inference.Worker.Models;
using Inference.Worker.Sampling;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Bench;

/// <summary>
/// Breaks one decode step into its parts (host-side Pack, model Forward, greedy Sample) and times
/// the individual ops of a layer at decode shapes. Each figure is the best of several rounds (the
/// machine is shared, so the minimum is the least noisy estimate of the cost).
/// </summary>
internal static class ProfileBenchmark
{
    private const int Rounds = 5;

    public static int Run(int[] batchSizes, int context, int iterations, int threads)
    {
        if (threads > 0)
        {
            set_num_threads(threads);
        }

        ModelConfig config = RuntimeBenchmark.Model25M();
        using LlamaModel model = LlamaModel.Load(config, new RandomWeightSource(seed: 1), ScalarType.Float32, CPU, maxModelLength: 1024);
        Console.WriteLine($"torch threads: {get_num_threads()}, interop threads: {get_num_interop_threads()}; decode at context {context}; best of {Rounds} rounds x {iterations}");
        Console.WriteLine();
        Console.WriteLine("| batch | pack us | forward ms (host path) | forward ms (libtorch ops) | sample us | step ms (sum) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");

        foreach (int b in batchSizes)
        {
            int blocksPerSeq = (context / 16) + 2;
            using var cache = PagedKvCache.Create(
                config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, ScalarType.Float32, CPU,
                PagedKvCache.BytesPerBlockFor(config.NumHiddenLayers, 16, config.NumKeyValueHeads, config.HeadDim, ScalarType.Float32) * b * blocksPerSeq);
            var batch = new ForwardBatch { BlockSize = 16 };
            var requests = new List<SampleRequest>();
            var greedy = new SamplingParams { Temperature = 0 };
            for (int s = 0; s < b; s++)
            {
                var table = new List<int>();
                for (int k = 0; k < blocksPerSeq; k++)
                {
                    table.Add((s * blocksPerSeq) + k);
                }

                batch.Add([(s * 7) + 3], context - 1, table);
                requests.Add(new SampleRequest(greedy, [], [], 0));
            }

            double packUs = Best(iterations, () => batch.Pack()) * 1e6;
            double Forward(bool host)
            {
                model.UseHostKernels = host;
                return Best(iterations, () =>
                {
                    using var scope = NewDisposeScope();
                    using var mode = inference_mode();
                    model.Forward(batch, cache);
                }) * 1e3;
            }

            double referenceMs = Forward(host: false);
            double forwardMs = Forward(host: true);

            var sampler = new Sampler();
            var result = new SampleResult();
            Tensor logits;
            using (var mode = inference_mode())
            {
                logits = model.Forward(batch, cache);
            }

            double sampleUs = Best(iterations, () => sampler.Sample(logits, requests, result)) * 1e6;
            logits.Dispose();
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {b} | {packUs:F1} | {forwardMs:F2} | {referenceMs:F2} | {sampleUs:F0} | {forwardMs + ((packUs + sampleUs) / 1e3):F2} |"));
        }

        Console.WriteLine();
        foreach (int b in batchSizes)
        {
            OpTimings(config, b, context, iterations);
        }

        return 0;
    }

    private static void OpTimings(ModelConfig c, int b, int context, int iterations)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        int hidden = c.HiddenSize;
        int d = c.HeadDim;
        int kv = c.NumKeyValueHeads;
        int group = c.NumAttentionHeads / kv;
        Tensor x = randn(b, hidden);
        Tensor norm = ones(hidden);
        Tensor qkvW = randn((c.NumAttentionHeads + (2 * kv)) * d, hidden);
        Tensor oW = randn(hidden, c.NumAttentionHeads * d);
        Tensor guW = randn(2 * c.IntermediateSize, hidden);
        Tensor downW = randn(hidden, c.IntermediateSize);
        Tensor lmW = randn(c.VocabSize, hidden);
        Tensor cacheK = randn(b * (context + 32), kv, d);
        long[] gatherHost = new long[b * context];
        for (int i = 0; i < gatherHost.Length; i++)
        {
            gatherHost[i] = i + ((i / context) * 32);
        }

        Tensor gather = tensor(gatherHost);
        Tensor q = randn(b, kv, group, d);
        Tensor keys = cacheK.index_select(0, gather).view(b, context, kv, d).permute(0, 2, 1, 3);
        Tensor values = keys.clone();
        Tensor keysC = keys.contiguous();
        Tensor valuesC = values.contiguous();
        Tensor mask = ones([b, 1, 1, context], ScalarType.Bool);
        Tensor qk = randn(b, c.NumAttentionHeads + kv, d);
        Tensor cos = randn(b, 1, d);

        Tensor lmWT = lmW.t().contiguous();
        Tensor xi = randn(b, c.IntermediateSize);
        Tensor[] gus = Enumerable.Range(0, 8).Select(_ => randn(2 * c.IntermediateSize, hidden)).ToArray();
        Tensor[] gusT = gus.Select(w => w.t().contiguous()).ToArray();
        Tensor[] downs = Enumerable.Range(0, 8).Select(_ => randn(hidden, c.IntermediateSize)).ToArray();
        Tensor[] downsT = downs.Select(w => w.t().contiguous()).ToArray();
        Tensor[] qkvs = Enumerable.Range(0, 8).Select(_ => randn((c.NumAttentionHeads + (2 * kv)) * d, hidden)).ToArray();
        Tensor[] qkvsT = qkvs.Select(w => w.t().contiguous()).ToArray();
        Tensor logits = randn(b, c.VocabSize);
        var ops = new (string Name, Action Op)[]
        {
            ("8x gate_up linear (cold)", () => { for (int i = 0; i < 8; i++) { _ = F.linear(x, gus[i]); } }),
            ("8x gate_up mm WT (cold)", () => { for (int i = 0; i < 8; i++) { _ = mm(x, gusT[i]); } }),
            ("8x down linear (cold)", () => { for (int i = 0; i < 8; i++) { _ = F.linear(xi, downs[i]); } }),
            ("8x down mm WT (cold)", () => { for (int i = 0; i < 8; i++) { _ = mm(xi, downsT[i]); } }),
            ("8x qkv linear (cold)", () => { for (int i = 0; i < 8; i++) { _ = F.linear(x, qkvs[i]); } }),
            ("8x qkv mm WT (cold)", () => { for (int i = 0; i < 8; i++) { _ = mm(x, qkvsT[i]); } }),
            ("lm_head mm(W, x^T)^T", () => _ = mm(lmW, x.t()).t()),
            ("lm_head mm(W, x^T)^T contig", () => _ = mm(lmW, x.t()).t().contiguous()),
            ("lm_head mm(x, WT)", () => _ = mm(x, lmWT)),
            ("lm_head matmul(x, W.t())", () => _ = x.matmul(lmW.t())),
            ("argmax(1)", () => _ = logits.argmax(1)),
            ("max(1)", () => _ = logits.max(1)),
            ("topk(1)", () => _ = logits.topk(1, 1)),
            ("tiny op (x + x)", () => _ = x + x),
            ("rms_norm (6 ops)", () => _ = x * (x.square().mean([-1L], keepdim: true) + 1e-5).rsqrt() * norm),
            ("linear qkv", () => _ = F.linear(x, qkvW)),
            ("linear o", () => _ = F.linear(x, oW)),
            ("linear gate_up", () => _ = F.linear(x, guW)),
            ("linear down", () => _ = F.linear(randn(b, c.IntermediateSize), downW)),
            ("lm_head", () => _ = F.linear(x, lmW)),
            ("rope (4 ops)", () => _ = (qk * cos) + (qk.roll(d / 2, -1) * cos)),
            ("gather K (index_select)", () => _ = cacheK.index_select(0, gather)),
            ("sdpa bool mask (permuted kv)", () => _ = F.scaled_dot_product_attention(q, keys, values, mask)),
            ("sdpa bool mask (contig kv)", () => _ = F.scaled_dot_product_attention(q, keysC, valuesC, mask)),
            ("sdpa no mask (permuted kv)", () => _ = F.scaled_dot_product_attention(q, keys, values)),
            ("manual matmul-softmax-matmul", () =>
                _ = (q.matmul(keys.transpose(-1, -2)) * (1.0 / Math.Sqrt(d))).masked_fill(mask.logical_not(), double.NegativeInfinity).softmax(-1).matmul(values)),
            ("silu*up", () => _ = F.silu(x) * x),
        };

        Console.WriteLine($"batch {b}: op timings (us, best of {Rounds})");
        foreach ((string name, Action op) in ops)
        {
            double us = Best(iterations, () =>
            {
                using var s = NewDisposeScope();
                op();
            }) * 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-32} {us,10:F1}"));
        }
    }

    private static double Best(int iterations, Action action)
    {
        for (int i = 0; i < 3; i++)
        {
            action();
        }

        double best = double.MaxValue;
        for (int r = 0; r < Rounds; r++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++)
            {
                action();
            }

            best = Math.Min(best, clock.Elapsed.TotalSeconds / iterations);
        }

        return best;
    }
}

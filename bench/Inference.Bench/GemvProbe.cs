using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace Inference.Bench;

internal static unsafe class GemvProbe
{
    // y[o] = dot(W[o, :], x) for W [out, in] row-major; four outputs per pass.
    public static void Gemv(float* w, float* x, float* y, int rows, int cols)
    {
        int o = 0;
        for (; o + 4 <= rows; o += 4)
        {
            float* w0 = w + ((long)o * cols);
            float* w1 = w0 + cols;
            float* w2 = w1 + cols;
            float* w3 = w2 + cols;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < cols; i += 8)
            {
                Vector256<float> xv = Avx.LoadVector256(x + i);
                a0 = Fma.MultiplyAdd(Avx.LoadVector256(w0 + i), xv, a0);
                a1 = Fma.MultiplyAdd(Avx.LoadVector256(w1 + i), xv, a1);
                a2 = Fma.MultiplyAdd(Avx.LoadVector256(w2 + i), xv, a2);
                a3 = Fma.MultiplyAdd(Avx.LoadVector256(w3 + i), xv, a3);
            }

            y[o] = Vector256.Sum(a0);
            y[o + 1] = Vector256.Sum(a1);
            y[o + 2] = Vector256.Sum(a2);
            y[o + 3] = Vector256.Sum(a3);
        }
    }

    // Forward-only decode at batch 1..4 on a model folder, three configurations interleaved per round in one process.
    public static void Run(string modelDir)
    {
        using var runtime = Inference.Worker.Runtime.ModelRuntime.Load(new Inference.Worker.Runtime.WorkerOptions { ModelDir = modelDir, KvCacheMemory = "64MiB", Dtype = "float32" });
        var model = runtime.Model;
        using var mode = inference_mode();
        foreach (int b in new[] { 1, 2, 4 })
        {
            var batch = new Inference.Worker.Models.ForwardBatch { BlockSize = 16 };
            for (int s = 0; s < b; s++)
            {
                batch.Add([(s * 7) + 3], 127, Enumerable.Range(s * 9, 9).ToList());
            }

            var results = new Dictionary<string, List<double>>();
            for (int round = 0; round < 7; round++)
            {
                foreach ((string name, bool host, int helpers) in new[] { ("libtorch ops", false, 1), ("host, 0 helpers", true, 0), ("host, 1 helper", true, 1) })
                {
                    model.UseHostKernels = host;
                    if (model.HostHelperThreads != helpers) { model.HostHelperThreads = helpers; }
                    for (int i = 0; i < 20; i++) { using var s0 = NewDisposeScope(); model.Forward(batch, runtime.Cache); }
                    var c = Stopwatch.StartNew();
                    for (int i = 0; i < 200; i++) { using var s1 = NewDisposeScope(); model.Forward(batch, runtime.Cache).max(1); }
                    (results.TryGetValue(name, out var l) ? l : results[name] = []).Add(c.Elapsed.TotalMicroseconds / 200);
                }
            }

            foreach (var (name, l) in results)
            {
                l.Sort();
                Console.WriteLine($"batch {b}: {name,-16} min {l[0],7:F0} us  median {l[l.Count / 2],7:F0} us");
            }
        }
    }

    public static void Run()
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var shapes = new List<(int Out, int In)>();
        for (int l = 0; l < 6; l++)
        {
            shapes.Add((512, 256)); shapes.Add((256, 256)); shapes.Add((1024, 256)); shapes.Add((256, 512));
        }

        shapes.Add((4096, 256));
        var wT = shapes.Select(s => randn(s.In, s.Out)).ToArray();
        using var pool = new Inference.Worker.Models.GemvPool(1);
        foreach (int m in new[] { 1, 2, 4 })
        {
            var xs = shapes.Select(s => randn(m, s.In)).ToArray();
            var ys = shapes.Select(s => empty(m, s.Out)).ToArray();
            for (int round = 0; round < 4; round++)
            {
                var c = Stopwatch.StartNew();
                for (int it = 0; it < 300; it++)
                {
                    using var s2 = NewDisposeScope();
                    for (int k = 0; k < wT.Length; k++)
                    {
                        _ = xs[k].mm(wT[k]);
                    }
                }

                double torchUs = c.Elapsed.TotalMicroseconds / 300;
                c.Restart();
                for (int it = 0; it < 300; it++)
                {
                    for (int k = 0; k < wT.Length; k++)
                    {
                        pool.Run(Inference.Worker.Models.HostKernels.Data(xs[k]), m, shapes[k].In, Inference.Worker.Models.HostKernels.Data(wT[k]), shapes[k].Out, null, Inference.Worker.Models.HostKernels.Data(ys[k]), false);
                    }
                }

                double hostUs = c.Elapsed.TotalMicroseconds / 300;
                Console.WriteLine($"M={m}: 25 products: libtorch mm {torchUs:F0} us, GemvPool(1 helper) {hostUs:F0} us");
            }

            Console.WriteLine($"max diff {(xs[^1].mm(wT[^1]) - ys[^1]).abs().max().item<float>()}");
        }
    }
}

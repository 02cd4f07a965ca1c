using System.Diagnostics;
using static TorchSharp.torch;

namespace Inference.Bench;

/// <summary>
/// The host products (<see cref="Inference.Worker.Models.GemvPool"/>) against libtorch's mm at the bundled model's
/// decode shapes, and (with a model folder) forward-only decode of the three decode paths interleaved in one process.
/// </summary>
internal static unsafe class GemvProbe
{
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

using System.Globalization;
using System.Text.Json;
using Inference.Worker.KvCache;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using static TorchSharp.torch;

namespace Inference.Bench;

/// <summary>
/// golden: the golden-logit check of tests/Worker.Tests/Golden on any device and dtype (the unit tests run it on CPU;
/// this is how a GPU machine runs it without the test SDK). Every prompt of each golden.json is run through the paged
/// cache; exit 1 when the largest absolute logit difference reaches the tolerance.
/// </summary>
internal static class GoldenCheck
{
    public static int Run(string[] args)
    {
        string? root = null;
        string device = "cpu", dtype = "float32";
        float tolerance = 1e-4f;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--dir": root = args[i + 1]; break;
                case "--device": device = args[i + 1]; break;
                case "--dtype": dtype = args[i + 1]; break;
                case "--tolerance": tolerance = float.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 2;
            }
        }

        if (root is null || args.Length % 2 != 0)
        {
            Console.Error.WriteLine("usage: Inference.Bench golden --dir tests/Worker.Tests/TestData/golden [--device cuda:0] [--dtype bfloat16] [--tolerance 0.05]");
            return 2;
        }

        Device target = DeviceOption.Parse(device);
        bool ok = true;
        foreach (string dir in Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "golden.json"))).Order(StringComparer.Ordinal))
        {
            using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json")));
            ModelConfig config = ModelConfigReader.Read(dir);
            ScalarType type = DtypeOption.ResolveDtype(dtype, target, config);
            using var checkpoint = CheckpointReader.Open(dir);
            using LlamaModel model = LlamaModel.Load(config, checkpoint, type, target);
            JsonElement prompts = golden.RootElement.GetProperty("prompts");
            JsonElement logits = golden.RootElement.GetProperty("logits");
            float worst = 0;
            for (int p = 0; p < prompts.GetArrayLength(); p++)
            {
                int[] ids = [.. prompts[p].EnumerateArray().Select(e => e.GetInt32())];
                float[] expected = [.. logits[p].EnumerateArray().SelectMany(row => row.EnumerateArray().Select(v => v.GetSingle()))];
                using var scope = NewDisposeScope();
                using var noGrad = inference_mode();
                using var cache = PagedKvCache.Create(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, type, target, 1 << 22, 4);
                var batch = new ForwardBatch { BlockSize = 4, AllLogits = true };
                batch.Add(ids, 0, [.. Enumerable.Range(0, (ids.Length + 3) / 4)]);
                float[] actual = model.Forward(batch, cache).to(float32).cpu().data<float>().ToArray();
                if (actual.Length != expected.Length)
                {
                    Console.WriteLine($"{Path.GetFileName(dir)} prompt {p}: {actual.Length} logits, expected {expected.Length}");
                    ok = false;
                    continue;
                }

                worst = Math.Max(worst, actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max());
            }

            bool pass = worst < tolerance;
            ok &= pass;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(pass ? "ok  " : "FAIL")} {Path.GetFileName(dir)} on {device} in {type}: max abs logit diff {worst:G4} (tolerance {tolerance:G4})"));
        }

        return ok ? 0 : 1;
    }
}

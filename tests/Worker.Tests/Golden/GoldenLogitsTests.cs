using System.Text.Json;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Golden;

/// <summary>
/// Logits against an independent plain-PyTorch implementation (TestData/golden/reference_forward.py;
/// the exact commands are in TestData/golden/README.md and inside each golden.json).
/// </summary>
public sealed class GoldenLogitsTests
{
    public static TheoryData<string> Folders => new() { "llama3-gqa-tied", "qwen2-bias", "mistral-bf16", "llama2-mha" };

    [Theory]
    [MemberData(nameof(Folders))]
    public void Forward_EveryPosition_MatchesReferenceWithin1e4(string folder)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "TestData", "golden", folder);
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json")));
        ModelConfig config = ModelConfigReader.Read(dir);
        using var checkpoint = CheckpointReader.Open(dir);
        using LlamaModel model = LlamaModel.Load(config, checkpoint, ScalarType.Float32, CPU);
        checkpoint.EnsureAllRead();
        using var cache = TestModels.Cache(model, numBlocks: 32, blockSize: 4);

        JsonElement prompts = golden.RootElement.GetProperty("prompts");
        JsonElement logits = golden.RootElement.GetProperty("logits");
        Assert.Equal(2, prompts.GetArrayLength());
        for (int p = 0; p < prompts.GetArrayLength(); p++)
        {
            int[] ids = prompts[p].EnumerateArray().Select(e => e.GetInt32()).ToArray();
            float[] expected = logits[p].EnumerateArray().SelectMany(row => row.EnumerateArray().Select(v => v.GetSingle())).ToArray();

            using var scope = NewDisposeScope();
            using var noGrad = inference_mode();
            var batch = new ForwardBatch { BlockSize = 4, AllLogits = true };

            // Prefill in two chunks through the paged cache, the way the engine runs it.
            int half = ids.Length / 2;
            batch.Add(ids.AsSpan(0, half), 0, Enumerable.Range(0, 16).ToArray());
            Tensor first = model.Forward(batch, cache);
            batch.Clear();
            batch.AllLogits = true;
            batch.Add(ids.AsSpan(half), half, Enumerable.Range(0, 16).ToArray());
            Tensor second = model.Forward(batch, cache);
            float[] actual = cat([first, second], 0).data<float>().ToArray();

            Assert.Equal(expected.Length, actual.Length);
            float maxDiff = 0;
            for (int i = 0; i < actual.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            }

            Assert.True(maxDiff < 1e-4f, $"{folder} prompt {p}: max abs logit diff {maxDiff}");
        }
    }

    [Theory]
    [InlineData("mistral-bf16", ScalarType.BFloat16, 0.05f)]
    [InlineData("llama2-mha", ScalarType.Float16, 0.01f)]
    public void Forward_HalfPrecisionOnCpu_StaysCloseToReference(string folder, ScalarType dtype, float tolerance)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "TestData", "golden", folder);
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json")));
        using var checkpoint = CheckpointReader.Open(dir);
        using LlamaModel model = LlamaModel.Load(ModelConfigReader.Read(dir), checkpoint, dtype, CPU);
        using var cache = Inference.Worker.KvCache.PagedKvCache.Create(
            model.Config.NumHiddenLayers, model.Config.NumKeyValueHeads, model.Config.HeadDim, dtype, CPU, 1 << 20, 4);

        int[] ids = golden.RootElement.GetProperty("prompts")[1].EnumerateArray().Select(e => e.GetInt32()).ToArray();
        float[] expected = golden.RootElement.GetProperty("logits")[1].EnumerateArray()
            .SelectMany(row => row.EnumerateArray().Select(v => v.GetSingle())).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        var batch = new ForwardBatch { BlockSize = 4, AllLogits = true };
        batch.Add(ids, 0, Enumerable.Range(0, 16).ToArray());
        Tensor logits = model.Forward(batch, cache);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        float[] actual = logits.data<float>().ToArray();
        float maxDiff = actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
        Assert.True(maxDiff < tolerance, $"{folder} in {dtype}: max abs logit diff {maxDiff}");
    }
}

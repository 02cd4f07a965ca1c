using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Tokenization;
using Inference.Trainer;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Demo;

/// <summary>
/// The bundled demo model (models/brown-llama-5m, read from the repository): the runtime's paged-cache
/// forward reproduces the training code's full-sequence forward, and the folder is a complete,
/// loadable Hugging Face folder within the size budget.
/// </summary>
public sealed class BundledModelTests
{
    private const string Prompt = "The jury said that the city of Atlanta had run its election well, and the mayor agreed.";

    [Fact]
    public void Forward_RuntimeVsTrainingModule_LogitsMatchWithin1e3()
    {
        int[] ids = ModelTokenizer.Load(BundledModel.Directory()).Encode(Prompt);
        Assert.True(ids.Length > 16, $"prompt has {ids.Length} tokens");

        // Prefill in two chunks through the paged cache, as the engine runs a long prompt.
        float maxDiff = MaxLogitDiff(ids, chunk: (ids.Length + 1) / 2, from: 0);

        Assert.True(maxDiff < 1e-3f, $"max abs logit diff {maxDiff}");
    }

    /// <summary>
    /// Largest absolute difference, over positions from <paramref name="from"/> on, between the training module's
    /// full-sequence logits for <paramref name="ids"/> and the runtime's, prefilled through the paged cache in
    /// chunks of <paramref name="chunk"/> tokens (float32 weights read from the bundled folder).
    /// </summary>
    internal static float MaxLogitDiff(int[] ids, int chunk, int from)
    {
        string dir = BundledModel.Directory();
        ModelConfig config = ModelConfigReader.Read(dir);
        using var trainingCheckpoint = CheckpointReader.Open(dir);
        using LlamaTrainingModel training = LlamaTrainingModel.Load(config, trainingCheckpoint);
        using var runtimeCheckpoint = CheckpointReader.Open(dir);
        using LlamaModel runtime = LlamaModel.Load(config, runtimeCheckpoint, ScalarType.Float32, CPU);
        int numBlocks = (ids.Length / 16) + 1;
        using var cache = TestModels.Cache(runtime, numBlocks: numBlocks, blockSize: 16);

        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        training.eval();
        Tensor expected = training.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).squeeze(0);

        int[] blocks = Enumerable.Range(0, numBlocks).ToArray();
        var parts = new List<Tensor>();
        for (int start = 0; start < ids.Length; start += chunk)
        {
            var batch = new ForwardBatch { BlockSize = 16, AllLogits = true };
            batch.Add(ids.AsSpan(start, Math.Min(chunk, ids.Length - start)), start, blocks);
            parts.Add(runtime.Forward(batch, cache));
        }

        Tensor actual = cat(parts, 0);
        Assert.Equal(expected.shape, actual.shape);
        long n = ids.Length - from;
        return (actual.narrow(0, from, n) - expected.narrow(0, from, n)).abs().max().item<float>();
    }

    [Fact]
    public void Folder_HuggingFaceFiles_LoadWithinSizeBudget()
    {
        string dir = BundledModel.Directory();
        foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "generation_config.json", "README.md" })
        {
            Assert.True(File.Exists(Path.Combine(dir, file)), $"{file} is missing");
        }

        long bytes = new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.True(bytes <= 40L * 1024 * 1024, $"{bytes} bytes");

        ModelConfig config = ModelConfigReader.Read(dir);
        Assert.Equal("float16", config.TorchDtype);
        ModelTokenizer tokenizer = ModelTokenizer.Load(dir);
        Assert.Equal("llama2", tokenizer.ChatTemplate?.Name);
        Assert.Equal(Prompt, tokenizer.Decode(tokenizer.Encode(Prompt)));
    }
}

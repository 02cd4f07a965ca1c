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
        string dir = BundledModel.Directory();
        ModelConfig config = ModelConfigReader.Read(dir);
        int[] ids = ModelTokenizer.Load(dir).Encode(Prompt);
        Assert.True(ids.Length > 16, $"prompt has {ids.Length} tokens");

        using var trainingCheckpoint = CheckpointReader.Open(dir);
        using LlamaTrainingModel training = LlamaTrainingModel.Load(config, trainingCheckpoint);
        using var runtimeCheckpoint = CheckpointReader.Open(dir);
        using LlamaModel runtime = LlamaModel.Load(config, runtimeCheckpoint, ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(runtime, numBlocks: 16, blockSize: 16);

        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        training.eval();
        Tensor expected = training.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).squeeze(0);

        // Prefill in two chunks through the paged cache, as the engine runs a long prompt.
        var batch = new ForwardBatch { BlockSize = 16, AllLogits = true };
        int[] blocks = Enumerable.Range(0, 16).ToArray();
        int half = ids.Length / 2;
        batch.Add(ids.AsSpan(0, half), 0, blocks);
        Tensor first = runtime.Forward(batch, cache);
        batch.Clear();
        batch.AllLogits = true;
        batch.Add(ids.AsSpan(half), half, blocks);
        Tensor actual = cat([first, runtime.Forward(batch, cache)], 0);

        Assert.Equal(expected.shape, actual.shape);
        float maxDiff = (actual - expected).abs().max().item<float>();
        Assert.True(maxDiff < 1e-3f, $"max abs logit diff {maxDiff}");
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

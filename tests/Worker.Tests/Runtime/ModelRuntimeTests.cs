using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Runtime;

public sealed class ModelRuntimeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "runtime-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    public static TheoryData<ModelArchitecture> Architectures => new() { ModelArchitecture.Llama, ModelArchitecture.Qwen2, ModelArchitecture.Mistral };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Load_GeneratedFolder_GeneratesDecodableTextAndFreesBlocks(ModelArchitecture arch)
    {
        ModelConfig config = TestModels.Config(arch) with { VocabSize = 400 };
        RandomModelWriter.Write(_dir, config, seed: 3);

        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "4MiB", BlockSize = 8 });
        int[] prompt = runtime.Tokenizer.Encode("The quick brown fox");
        var core = Engine.CoreDriver.Core(runtime);
        var events = Engine.CoreDriver.Add(core, "r", prompt, new SamplingParams { Temperature = 0.8f, Seed = 5, MaxTokens = 12, IgnoreEos = true });
        var detokenizer = runtime.Tokenizer.CreateDetokenizer();
        string streamed = string.Empty;
        var tokens = new List<int>();
        while (core.HasWork)
        {
            core.Step();
            while (events.TryRead(out var e))
            {
                if (e.HasToken)
                {
                    tokens.Add(e.TokenId);
                    streamed += detokenizer.Push(e.TokenId);
                }
            }
        }

        streamed += detokenizer.Flush();

        Assert.Equal(12, tokens.Count);
        Assert.Equal(runtime.Tokenizer.Decode(tokens.ToArray()), streamed);
        Assert.Equal(0, core.UsedBlocks);
        Assert.Equal(TestModels.Config(arch).HiddenSize, runtime.Config.HiddenSize);
    }

    [Fact]
    public void Load_MissingTokenizer_NamesTheFolder()
    {
        RandomModelWriter.Write(_dir, TestModels.Config(ModelArchitecture.Llama) with { VocabSize = 400 });
        File.Delete(Path.Combine(_dir, "tokenizer.model"));
        File.Delete(Path.Combine(_dir, "tokenizer.json"));
        var ex = Assert.Throws<ModelLoadException>(() => ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "1MiB" }));
        Assert.Contains("tokenizer", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Load_ExtraTensor_NamesTensorAndFile()
    {
        ModelConfig config = TestModels.Config(ModelArchitecture.Mistral) with { VocabSize = 400 };
        RandomModelWriter.Write(_dir, config);

        // Declare one layer fewer than the checkpoint holds: layer 1's tensors become unexpected.
        string configPath = Path.Combine(_dir, "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1", StringComparison.Ordinal));
        var ex = Assert.Throws<ModelLoadException>(() => ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "1MiB" }));
        Assert.Contains("model.safetensors", ex.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.1.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpu", "--device")]
    [InlineData("cuda:x", "--device")]
    public void Load_BadDevice_NamesTheOption(string device, string expected)
    {
        RandomModelWriter.Write(_dir, TestModels.Config(ModelArchitecture.Llama) with { VocabSize = 400 });
        var ex = Assert.Throws<ArgumentException>(() => ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, Device = device }));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadKvCacheMemory_NamesTheOption()
    {
        RandomModelWriter.Write(_dir, TestModels.Config(ModelArchitecture.Llama) with { VocabSize = 400 });
        var ex = Assert.Throws<ArgumentException>(() => ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "lots" }));
        Assert.Contains("--kv-cache-memory", ex.Message, StringComparison.Ordinal);
    }
}

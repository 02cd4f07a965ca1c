using Inference.Worker.KvCache;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Models;

/// <summary>
/// A model split into pipeline stages on CPU device slots against the same weights unsplit: every stage is its own
/// slot (own weights, rope tables and KV tensors), so these runs go through the stage hand-offs a multi-GPU split does.
/// </summary>
public sealed class LlamaModelPipelineTests
{
    private const int Layers = 5;

    // Uneven splits in 2 and 3 stages, on both forward paths (host kernels, libtorch ops), for each architecture's quirk
    // (tied embeddings: Llama; q/k/v bias: Qwen2; no GQA: Mistral).
    public static TheoryData<ModelArchitecture, string, bool> Splits => new()
    {
        { ModelArchitecture.Llama, "1,4", true },
        { ModelArchitecture.Llama, "1,4", false },
        { ModelArchitecture.Llama, "2,2,1", true },
        { ModelArchitecture.Llama, "2,2,1", false },
        { ModelArchitecture.Qwen2, "3,2", false },
        { ModelArchitecture.Qwen2, "1,3,1", true },
        { ModelArchitecture.Mistral, "4,1", true },
        { ModelArchitecture.Mistral, "1,1,3", false },
    };

    private static ModelConfig Config(ModelArchitecture arch) => TestModels.Config(arch) with { NumHiddenLayers = Layers };

    private static LlamaModel Load(ModelConfig config, string? layers)
    {
        var source = new RandomWeightSource(seed: 7, std: 0.08);
        if (layers is null)
        {
            return LlamaModel.Load(config, source, ScalarType.Float32, CPU);
        }

        int stages = layers.Split(',').Length;
        string devices = string.Join(',', Enumerable.Repeat("cpu", stages));
        return LlamaModel.Load(config, source, ScalarType.Float32, PipelineOption.Plan(devices, layers, config.NumHiddenLayers));
    }

    [Theory]
    [MemberData(nameof(Splits))]
    public void Forward_SplitAcrossCpuSlots_LogitsBitIdenticalToUnsplitOnPrefillAndDecodes(ModelArchitecture arch, string layers, bool hostKernels)
    {
        // Arrange: the same weights unsplit and split, each with its own paged cache; block tables out of order.
        ModelConfig config = Config(arch);
        using LlamaModel unsplit = Load(config, null);
        using LlamaModel split = Load(config, layers);
        unsplit.UseHostKernels = hostKernels;
        split.UseHostKernels = hostKernels;
        Assert.Equal(layers.Split(',').Length, split.Stages.Count);
        using PagedKvCache unsplitCache = TestModels.Cache(unsplit, numBlocks: 32, blockSize: 4);
        using PagedKvCache splitCache = TestModels.Cache(split, numBlocks: 32, blockSize: 4);
        Assert.Equal(unsplitCache.NumBlocks, splitCache.NumBlocks);

        int[][] tables = [[9, 2, 17, 5, 30], [3, 12, 1, 20, 8], [6, 25, 14, 0, 11]];
        List<List<int>> sequences = [new(TestModels.Tokens(7, seed: 1, config.VocabSize)), new(TestModels.Tokens(3, seed: 2, config.VocabSize))];
        var cached = new List<int> { 0, 0 };
        var batch = new ForwardBatch { BlockSize = 4 };

        // Act/Assert: a prefill of two prompts, decodes, one step mixing a third prompt's prefill with decodes, decodes.
        for (int step = 0; step < 7; step++)
        {
            if (step == 3)
            {
                sequences.Add(new(TestModels.Tokens(5, seed: 3, config.VocabSize)));
                cached.Add(0);
            }

            using var scope = NewDisposeScope();
            using var noGrad = inference_mode();
            batch.Clear();
            for (int s = 0; s < sequences.Count; s++)
            {
                batch.Add(sequences[s].ToArray().AsSpan(cached[s]), cached[s], tables[s]);
            }

            Tensor expected = unsplit.Forward(batch, unsplitCache);
            Tensor actual = split.Forward(batch, splitCache);
            Assert.True((expected == actual).all().item<bool>(), $"step {step}: logits differ by up to {TestModels.MaxAbsDiff(expected, actual)}");

            long[] next = expected.argmax(1).data<long>().ToArray();
            for (int s = 0; s < sequences.Count; s++)
            {
                cached[s] = sequences[s].Count;
                sequences[s].Add((int)next[s]);
            }
        }

        // Every stage wrote its layers' K/V into the same blocks the unsplit cache holds them in.
        for (int layer = 0; layer < Layers; layer++)
        {
            Assert.True((unsplitCache.Keys(layer) == splitCache.Keys(layer)).all().item<bool>(), $"keys of layer {layer}");
            Assert.True((unsplitCache.Values(layer) == splitCache.Values(layer)).all().item<bool>(), $"values of layer {layer}");
        }
    }

    // Tensors created by one decode forward of one sequence at 9 tokens of context.
    private static long TensorsPerDecodeStep(string? layers, bool host)
    {
        using LlamaModel model = Load(Config(ModelArchitecture.Llama), layers);
        using PagedKvCache cache = TestModels.Cache(model, numBlocks: 16, blockSize: 4);
        model.UseHostKernels = host;
        using var noGrad = inference_mode();
        var batch = new ForwardBatch { BlockSize = 4 };
        using (var warm = NewDisposeScope())
        {
            batch.Add(TestModels.Tokens(9, 1, 96), 0, [3, 1, 4]);
            model.Forward(batch, cache);
        }

        batch.Clear();
        batch.Add([7], 9, [3, 1, 4]);
        using var scope = NewDisposeScope();
        long before = TorchSharp.DisposeScopeManager.Statistics.CreatedInScopeCount;
        model.Forward(batch, cache);
        return TorchSharp.DisposeScopeManager.Statistics.CreatedInScopeCount - before;
    }

    [Fact]
    public void Forward_SplitDecodeStep_CostsAFewTensorsPerStageBoundary()
    {
        // The split's whole overhead per step: per extra stage its index views (6), its cos/sin gathers (4) and one
        // hand-off copy on the libtorch path (11 tensors, a few us each on CPU); nothing on the host path (one host
        // buffer for the hidden state). A regression that adds per-stage work shows here.
        long reference1 = TensorsPerDecodeStep(null, host: false);
        long reference3 = TensorsPerDecodeStep("2,2,1", host: false);
        long host1 = TensorsPerDecodeStep(null, host: true);
        long host3 = TensorsPerDecodeStep("2,2,1", host: true);

        Assert.Equal(host1, host3);
        long perBoundary = (reference3 - reference1) / 2;
        Assert.Equal(0, (reference3 - reference1) % 2);
        Assert.True(perBoundary is > 0 and <= 11, $"a stage boundary creates {perBoundary} tensors per decode step");
    }

    [Fact]
    public void Load_ThreeCpuSlots_EachStageOwnsItsWeightsAndKvTensors()
    {
        ModelConfig config = Config(ModelArchitecture.Llama);
        using LlamaModel split = Load(config, "1,3,1");
        using PagedKvCache cache = TestModels.Cache(split, numBlocks: 8);

        Assert.Equal("cpu layers 0-0; cpu layers 1-3; cpu layers 4-4", PipelineStage.Describe(split.Stages));
        Assert.Equal(split.Stages, cache.Stages);

        // No two layers share storage: each keeps the value written into it.
        for (int layer = 0; layer < Layers; layer++)
        {
            cache.Keys(layer).fill_(layer + 1);
            cache.Values(layer).fill_(-(layer + 1));
        }

        using var scope = NewDisposeScope();
        for (int layer = 0; layer < Layers; layer++)
        {
            Assert.Equal(layer + 1, cache.Keys(layer).min().item<float>());
            Assert.Equal(-(layer + 1), cache.Values(layer).max().item<float>());
        }
    }

    [Fact]
    public void Forward_CacheLaidOutForOtherStages_Throws()
    {
        ModelConfig config = Config(ModelArchitecture.Llama);
        using LlamaModel unsplit = Load(config, null);
        using LlamaModel split = Load(config, "2,3");
        using PagedKvCache unsplitCache = TestModels.Cache(unsplit, numBlocks: 8);
        var batch = new ForwardBatch { BlockSize = 4 };
        batch.Add([1, 2, 3], 0, [0]);

        var ex = Assert.Throws<ArgumentException>(() => split.Forward(batch, unsplitCache));
        Assert.Contains("cpu layers 0-4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cpu layers 0-1; cpu layers 2-4", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CopyBlocks_SplitCache_CopiesEveryStagesLayers()
    {
        ModelConfig config = Config(ModelArchitecture.Mistral);
        using LlamaModel split = Load(config, "3,2");
        using PagedKvCache cache = TestModels.Cache(split, numBlocks: 8);
        using (var scope = NewDisposeScope())
        {
            for (int layer = 0; layer < Layers; layer++)
            {
                cache.Keys(layer).narrow(0, 4, 4).fill_(layer + 1);
                cache.Values(layer).narrow(0, 4, 4).fill_(-(layer + 1));
            }
        }

        cache.CopyBlocks([1], [6]);

        using var check = NewDisposeScope();
        for (int layer = 0; layer < Layers; layer++)
        {
            Assert.Equal(layer + 1, cache.Keys(layer).narrow(0, 24, 4).min().item<float>());
            Assert.Equal(-(layer + 1), cache.Values(layer).narrow(0, 24, 4).max().item<float>());
        }
    }
}

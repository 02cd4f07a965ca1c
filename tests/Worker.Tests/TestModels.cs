using Inference.Worker.KvCache;
using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests;

/// <summary>Tiny configs for each supported architecture, with deterministic random weights.</summary>
internal static class TestModels
{
    public static ModelConfig Config(ModelArchitecture arch) => arch switch
    {
        ModelArchitecture.Llama => new ModelConfig
        {
            Architecture = ModelArchitecture.Llama,
            ArchitectureName = "LlamaForCausalLM",
            VocabSize = 96,
            HiddenSize = 64,
            IntermediateSize = 128,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 16,
            RmsNormEps = 1e-5,
            RopeTheta = 500000,
            RopeScaling = new RopeScaling("llama3", 8, 1, 4, 32),
            MaxPositionEmbeddings = 256,
            TieWordEmbeddings = true,
            AttentionBias = false,
        },
        ModelArchitecture.Qwen2 => Config(ModelArchitecture.Llama) with
        {
            Architecture = ModelArchitecture.Qwen2,
            ArchitectureName = "Qwen2ForCausalLM",
            RopeScaling = null,
            RopeTheta = 1000000,
            TieWordEmbeddings = false,
            AttentionBias = true,
        },
        ModelArchitecture.Mistral => Config(ModelArchitecture.Llama) with
        {
            Architecture = ModelArchitecture.Mistral,
            ArchitectureName = "MistralForCausalLM",
            NumKeyValueHeads = 4,
            RopeScaling = null,
            RopeTheta = 10000,
            TieWordEmbeddings = false,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(arch)),
    };

    public static LlamaModel Random(ModelArchitecture arch, long seed = 7, int? maxModelLength = null) =>
        LlamaModel.Load(Config(arch), new RandomWeightSource(seed, std: 0.08), ScalarType.Float32, CPU, maxModelLength);

    /// <summary>A cache of <paramref name="numBlocks"/> blocks laid out like the model's pipeline stages (one when unsplit).</summary>
    public static PagedKvCache Cache(LlamaModel model, int numBlocks = 128, int blockSize = 4)
    {
        var budgets = new long[model.Stages.Count];
        for (int i = 0; i < budgets.Length; i++)
        {
            budgets[i] = PagedKvCache.BytesPerBlockFor(model.Stages[i].NumLayers, blockSize, model.Config.NumKeyValueHeads, model.Config.HeadDim, ScalarType.Float32) * numBlocks;
        }

        return PagedKvCache.Create(model.Stages, model.Config.NumKeyValueHeads, model.Config.HeadDim, ScalarType.Float32, budgets, blockSize);
    }

    public static int[] Tokens(int count, int seed, int vocab)
    {
        var random = new System.Random(seed);
        var tokens = new int[count];
        for (int i = 0; i < count; i++)
        {
            tokens[i] = random.Next(vocab);
        }

        return tokens;
    }

    public static float[,] ToArray(Tensor t)
    {
        long rows = t.size(0);
        long cols = t.size(1);
        float[] flat = t.contiguous().cpu().data<float>().ToArray();
        var result = new float[rows, cols];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    /// <summary>
    /// Greedy tokens by full recompute: every step runs the whole sequence through the reference (prefill) path on a
    /// fresh cache and takes the argmax of its last row. Independent of the engine, the cache reuse and host decode.
    /// </summary>
    public static List<int> GreedyByRecompute(LlamaModel model, IReadOnlyList<int> prompt, int count)
    {
        var tokens = new List<int>(prompt);
        int blocks = ((prompt.Count + count) / 4) + 1;
        using var cache = Cache(model, numBlocks: blocks, blockSize: 4);
        int[] table = Enumerable.Range(0, blocks).ToArray();
        var batch = new ForwardBatch { BlockSize = 4 };
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = inference_mode();
            batch.Clear();
            batch.Add(tokens.ToArray(), 0, table);
            tokens.Add((int)model.Forward(batch, cache).argmax(1).item<long>());
        }

        return tokens.GetRange(prompt.Count, count);
    }

    public static float MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}

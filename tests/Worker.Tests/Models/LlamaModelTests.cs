using Inference.Worker.KvCache;
using Inference.Worker.Models;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Models;

public sealed class LlamaModelTests
{
    public static TheoryData<ModelArchitecture> Architectures => new() { ModelArchitecture.Llama, ModelArchitecture.Qwen2, ModelArchitecture.Mistral };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Forward_CachedDecodeSteps_MatchFullRecompute(ModelArchitecture arch)
    {
        using var model = TestModels.Random(arch);
        using var cache = TestModels.Cache(model, numBlocks: 64, blockSize: 4);
        int[] tokens = TestModels.Tokens(23, seed: 3, model.Config.VocabSize);

        // Deliberately scattered, non-contiguous blocks: nothing may assume a contiguous cache.
        int[] cachedTable = [17, 3, 40, 8, 29, 11, 55];
        int[] fullTable = [1, 2, 4, 5, 6, 7, 9];
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();

        var full = new ForwardBatch { BlockSize = 4, AllLogits = true };
        full.Add(tokens, 0, fullTable);
        Tensor reference = model.Forward(full, cache);

        // Prefill in two uneven chunks, then teacher-forced decode one token at a time.
        var step = new ForwardBatch { BlockSize = 4 };
        var cached = new List<Tensor>();
        int position = 0;
        foreach (int chunk in new[] { 5, 6 })
        {
            step.Clear();
            step.Add(tokens.AsSpan(position, chunk), position, cachedTable);
            cached.Add(model.Forward(step, cache));
            position += chunk;
        }

        while (position < tokens.Length)
        {
            step.Clear();
            step.Add(tokens.AsSpan(position, 1), position, cachedTable);
            cached.Add(model.Forward(step, cache));
            position++;
        }

        int[] rows = [4, 10, .. Enumerable.Range(11, tokens.Length - 11)];
        Tensor expected = reference.index_select(0, tensor(rows.Select(r => (long)r).ToArray()));
        Tensor actual = cat(cached, 0);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(TestModels.MaxAbsDiff(expected, actual) < 1e-4f, $"max abs diff {TestModels.MaxAbsDiff(expected, actual)}");
    }

    [Theory]
    [InlineData(ModelArchitecture.Llama, null)]
    [InlineData(ModelArchitecture.Qwen2, null)]
    [InlineData(ModelArchitecture.Mistral, null)]
    [InlineData(ModelArchitecture.Mistral, 5)]
    public void Forward_HostDecodeBatch_MatchesTheLibtorchReferencePath(ModelArchitecture arch, int? window)
    {
        ModelConfig config = TestModels.Config(arch) with { SlidingWindow = window };
        using var model = LlamaModel.Load(config, new RandomWeightSource(7, std: 0.08), ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(model, numBlocks: 64, blockSize: 4);
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();

        // Three sequences of different lengths on scattered blocks, prefilled by the reference path.
        int[][] prompts = [TestModels.Tokens(9, 1, 96), TestModels.Tokens(3, 2, 96), TestModels.Tokens(14, 3, 96)];
        int[][] tables = [[17, 3, 40, 8], [29], [11, 55, 2, 60]];
        var prefill = new ForwardBatch { BlockSize = 4 };
        for (int s = 0; s < prompts.Length; s++)
        {
            prefill.Add(prompts[s], 0, tables[s]);
        }

        model.UseHostKernels = false;
        model.Forward(prefill, cache);

        // The same decode step both ways; each writes the same K/V slot, so the second reads what the first wrote.
        var decode = new ForwardBatch { BlockSize = 4 };
        int[] next = [5, 77, 31];
        for (int s = 0; s < prompts.Length; s++)
        {
            decode.Add([next[s]], prompts[s].Length, tables[s], computeLogits: s != 1);
        }

        model.UseHostKernels = false;
        Tensor reference = model.Forward(decode, cache);
        model.UseHostKernels = true;
        Tensor host = model.Forward(decode, cache);

        Assert.Equal([2L, config.VocabSize], host.shape);
        Assert.True(TestModels.MaxAbsDiff(reference, host) < 1e-5f, $"max abs diff {TestModels.MaxAbsDiff(reference, host)}");
    }

    [Theory]
    [InlineData(ModelArchitecture.Llama, null)]
    [InlineData(ModelArchitecture.Qwen2, null)]
    [InlineData(ModelArchitecture.Mistral, 5)]
    public void Forward_HostMixedStep_MatchesTheLibtorchReferencePath(ModelArchitecture arch, int? window)
    {
        // A step as the engine plans them under load: decodes beside a prompt's middle chunk (context already
        // cached, no logits), a whole new prompt, and a prompt's last chunk; on the host path when its prefill
        // attention is small, otherwise the reference path.
        ModelConfig config = TestModels.Config(arch) with { SlidingWindow = window };
        using var model = LlamaModel.Load(config, new RandomWeightSource(11, std: 0.08), ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(model, numBlocks: 80, blockSize: 4);
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        int[] decoding = TestModels.Tokens(10, 1, 96);
        int[] chunked = TestModels.Tokens(20, 2, 96);
        int[] fresh = TestModels.Tokens(7, 3, 96);
        int[] finishing = TestModels.Tokens(12, 4, 96);
        int[] decodeTable = [31, 4, 17];
        int[] chunkedTable = [9, 50, 22, 1, 70];
        int[] freshTable = [12, 44];
        int[] finishingTable = [60, 5, 38, 66];

        model.UseHostKernels = false;
        var before = new ForwardBatch { BlockSize = 4 };
        before.Add(decoding, 0, decodeTable);
        before.Add(chunked.AsSpan(0, 6), 0, chunkedTable, computeLogits: false);
        before.Add(finishing.AsSpan(0, 5), 0, finishingTable, computeLogits: false);
        model.Forward(before, cache);

        var mixed = new ForwardBatch { BlockSize = 4 };
        mixed.Add([42], decoding.Length, decodeTable);
        mixed.Add(chunked.AsSpan(6, 8), 6, chunkedTable, computeLogits: false);
        mixed.Add(fresh, 0, freshTable);
        mixed.Add(finishing.AsSpan(5), 5, finishingTable);
        Assert.True(mixed.PrefillAttentionPairs <= LlamaModel.HostMaxPrefillAttentionPairs);

        Tensor reference = model.Forward(mixed, cache);
        model.UseHostKernels = true;
        Tensor host = model.Forward(mixed, cache);

        Assert.Equal([3L, config.VocabSize], host.shape);
        Assert.True(TestModels.MaxAbsDiff(reference, host) < 1e-5f, $"max abs diff {TestModels.MaxAbsDiff(reference, host)}");

        // The next decode of the chunked and finished prompts reads the K/V the host step wrote: same logits both ways.
        var next = new ForwardBatch { BlockSize = 4 };
        next.Add([3], 14, chunkedTable);
        next.Add([8], finishing.Length, finishingTable);
        Tensor hostNext = model.Forward(next, cache);
        model.UseHostKernels = false;
        Tensor referenceNext = model.Forward(next, cache);
        Assert.True(TestModels.MaxAbsDiff(referenceNext, hostNext) < 1e-5f, $"max abs diff {TestModels.MaxAbsDiff(referenceNext, hostNext)}");
    }

    [Fact]
    public void Forward_HostDecodeWithAttentionSplitOverThreads_MatchesTheLibtorchReferencePath()
    {
        // Enough sequences and context that each layer's attention is split over the product threads.
        ModelConfig config = TestModels.Config(ModelArchitecture.Llama);
        using var model = LlamaModel.Load(config, new RandomWeightSource(13, std: 0.08), ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(model, numBlocks: 480, blockSize: 4);
        model.HostHelperThreads = 2;
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        const int sequences = 16;
        int[][] tables = Enumerable.Range(0, sequences).Select(s => Enumerable.Range(0, 30).Select(j => (j * sequences) + s).ToArray()).ToArray();
        int[] contexts = Enumerable.Range(0, sequences).Select(s => 70 + (s * 3)).ToArray();
        model.UseHostKernels = false;
        var prefill = new ForwardBatch { BlockSize = 4 };
        for (int s = 0; s < sequences; s++)
        {
            prefill.Add(TestModels.Tokens(contexts[s], 40 + s, 96), 0, tables[s]);
        }

        model.Forward(prefill, cache);
        var decode = new ForwardBatch { BlockSize = 4 };
        for (int s = 0; s < sequences; s++)
        {
            decode.Add([(s * 5) % 96], contexts[s], tables[s]);
        }

        Assert.True(contexts.Sum(c => (long)c + 1) * config.NumAttentionHeads >= LlamaModel.AttentionSplitKeyReads, "the step must be large enough to split");
        Tensor reference = model.Forward(decode, cache);
        model.UseHostKernels = true;
        Tensor host = model.Forward(decode, cache);

        Assert.Equal([(long)sequences, config.VocabSize], host.shape);
        Assert.True(TestModels.MaxAbsDiff(reference, host) < 1e-5f, $"max abs diff {TestModels.MaxAbsDiff(reference, host)}");
    }

    // Tensors created by one decode forward of one sequence (each libtorch op that returns a tensor creates one).
    private static long TensorsPerDecodeStep(int layers, bool host)
    {
        ModelConfig config = TestModels.Config(ModelArchitecture.Llama) with { NumHiddenLayers = layers };
        using var model = LlamaModel.Load(config, new RandomWeightSource(7, std: 0.08), ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(model, numBlocks: 16, blockSize: 4);
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
    public void Forward_DecodeStep_TensorCountPerLayerIsPinned()
    {
        // The host path creates its step buffers once, whatever the depth; the reference path a fixed number per
        // layer. A regression that adds ops shows here (the counts are what the paths create today).
        long host2 = TensorsPerDecodeStep(2, host: true);
        long host6 = TensorsPerDecodeStep(6, host: true);
        long reference2 = TensorsPerDecodeStep(2, host: false);
        long reference6 = TensorsPerDecodeStep(6, host: false);
        Assert.Equal(host2, host6);
        Assert.True(host6 <= 8, $"host decode step creates {host6} tensors");
        long perLayer = (reference6 - reference2) / 4;
        Assert.Equal(0, (reference6 - reference2) % 4);
        Assert.True(perLayer <= 41, $"reference decode step creates {perLayer} tensors per layer");
        Assert.True(perLayer >= 20, $"reference decode step creates only {perLayer} tensors per layer: is the count still measured?");
    }

    [Fact]
    public void Forward_MixedPrefillAndDecodeBatch_MatchesEachSequenceAlone()
    {
        using var model = TestModels.Random(ModelArchitecture.Llama);
        using var cache = TestModels.Cache(model, numBlocks: 64, blockSize: 4);
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        int[] a = TestModels.Tokens(9, 1, 96);
        int[] b = TestModels.Tokens(14, 2, 96);

        // Alone: a's full 9 tokens, b's 13 then its 14th as a decode.
        var alone = new ForwardBatch { BlockSize = 4 };
        alone.Add(a, 0, [0, 1, 2]);
        Tensor aAlone = model.Forward(alone, cache);
        alone.Clear();
        alone.Add(b.AsSpan(0, 13), 0, [3, 4, 5, 6]);
        model.Forward(alone, cache);
        alone.Clear();
        alone.Add(b.AsSpan(13, 1), 13, [3, 4, 5, 6]);
        Tensor bAlone = model.Forward(alone, cache);

        // Together in one step: b decodes (reusing its cached 13 tokens, copied to new blocks), a prefills.
        alone.Clear();
        alone.Add(b.AsSpan(0, 13), 0, [10, 11, 12, 13]);
        model.Forward(alone, cache);
        var mixed = new ForwardBatch { BlockSize = 4 };
        mixed.Add(b.AsSpan(13, 1), 13, [10, 11, 12, 13]);
        mixed.Add(a, 0, [20, 21, 22]);
        Tensor together = model.Forward(mixed, cache);

        Assert.True(TestModels.MaxAbsDiff(together.narrow(0, 0, 1), bAlone) < 1e-5f);
        Assert.True(TestModels.MaxAbsDiff(together.narrow(0, 1, 1), aAlone) < 1e-5f);
    }

    [Fact]
    public void Forward_WithoutLogitsForPartialPrefill_ReturnsRowsOnlyForCompletedChunks()
    {
        using var model = TestModels.Random(ModelArchitecture.Llama);
        using var cache = TestModels.Cache(model);
        using var scope = NewDisposeScope();
        var batch = new ForwardBatch { BlockSize = 4 };
        batch.Add(TestModels.Tokens(6, 1, 96), 0, [0, 1], computeLogits: false);
        batch.Add(TestModels.Tokens(3, 2, 96), 0, [2]);
        Tensor logits = model.Forward(batch, cache);
        Assert.Equal(new long[] { 1, 96 }, logits.shape);
    }

    [Fact]
    public void Forward_BlockTableTooShort_ThrowsNamingTheChunk()
    {
        var batch = new ForwardBatch { BlockSize = 4 };
        var ex = Assert.Throws<ArgumentException>(() => batch.Add(new int[9], 0, [0, 1]));
        Assert.Contains("ends at 9", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_ThousandSteps_LiveTensorCountStaysFlat()
    {
        using var model = TestModels.Random(ModelArchitecture.Qwen2);
        using var cache = TestModels.Cache(model, numBlocks: 16, blockSize: 4);
        var batch = new ForwardBatch { BlockSize = 4 };
        int[] table = [0, 1, 2, 3, 4, 5, 6, 7];

        void RunStep(int i)
        {
            using var scope = NewDisposeScope();
            using var noGrad = inference_mode();
            batch.Clear();
            int position = i % 30;
            batch.Add([i % 96], position, table);
            batch.Add([(i * 7) % 96, 5], position, [8, 9, 10, 11, 12, 13, 14, 15]);
            model.Forward(batch, cache);
        }

        RunStep(0);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 1; i <= 1000; i++)
        {
            RunStep(i);
        }

        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
    }

    [Theory]
    [InlineData(6, true)]
    [InlineData(null, false)]
    public void Forward_SlidingWindow_HidesTokensOutsideTheWindow(int? window, bool expectUnchanged)
    {
        // One layer: the last position's logits depend only on the tokens its attention can see.
        ModelConfig config = TestModels.Config(ModelArchitecture.Mistral) with { NumHiddenLayers = 1, SlidingWindow = window };
        using var model = LlamaModel.Load(config, new RandomWeightSource(3, 0.08), ScalarType.Float32, CPU);
        using var cache = TestModels.Cache(model, numBlocks: 16, blockSize: 4);
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        int[] tokens = TestModels.Tokens(20, 1, 96);
        int[] altered = (int[])tokens.Clone();
        for (int i = 0; i < 20 - 6; i++)
        {
            altered[i] = (altered[i] + 1 + i) % 96;
        }

        var batch = new ForwardBatch { BlockSize = 4 };
        batch.Add(tokens, 0, [0, 1, 2, 3, 4]);
        Tensor original = model.Forward(batch, cache);
        batch.Clear();
        batch.Add(altered, 0, [5, 6, 7, 8, 9]);
        Tensor changed = model.Forward(batch, cache);

        float diff = TestModels.MaxAbsDiff(original, changed);
        if (expectUnchanged)
        {
            Assert.True(diff < 1e-5f, $"tokens outside the window changed the logits by {diff}");
        }
        else
        {
            Assert.True(diff > 1e-3f, $"without a window, earlier tokens must matter (diff {diff})");
        }
    }
}

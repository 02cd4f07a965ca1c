using Inference.Scheduler;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Runtime;

public sealed class GeneratorTests
{
    private static List<int> Generate(LlamaModel model, int maxBatchedTokens, GenerationSequence target, params GenerationSequence[] others)
    {
        using var cache = TestModels.Cache(model, numBlocks: 256, blockSize: 4);
        var generator = new Generator(model, cache, [], new Random(1), maxBatchedTokens);
        var all = new List<GenerationSequence> { target };
        all.AddRange(others);
        generator.RunToCompletion(all);
        Assert.Equal(0, generator.UsedBlocks);
        return [.. target.OutputTokens];
    }

    private static GenerationSequence[] Others(int vocab, Func<int, SamplingParams> parameters) =>
        Enumerable.Range(0, 7)
            .Select(i => new GenerationSequence(100 + i, TestModels.Tokens(3 + (i * 5), 50 + i, vocab), parameters(i)))
            .ToArray();

    [Fact]
    public void Greedy_AloneAndBatchedWithSevenMixedSequences_IsIdentical()
    {
        using var model = TestModels.Random(ModelArchitecture.Llama);
        int[] prompt = TestModels.Tokens(13, 9, 96);
        var p = new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true };

        List<int> alone = Generate(model, 512, new GenerationSequence(1, prompt, p));

        // A small token budget forces prompt chunks of the others to share steps with the target's decodes.
        List<int> batched = Generate(
            model,
            10,
            new GenerationSequence(1, prompt, p),
            Others(96, i => new SamplingParams { Temperature = 0, MaxTokens = 5 + (i * 4) }));

        Assert.Equal(24, alone.Count);
        Assert.Equal(alone, batched);
    }

    [Fact]
    public void Seeded_AloneAndBatched_IsIdentical()
    {
        using var model = TestModels.Random(ModelArchitecture.Qwen2);
        int[] prompt = TestModels.Tokens(7, 4, 96);
        var p = new SamplingParams { Temperature = 1.0f, TopP = 0.9f, Seed = 77, MaxTokens = 20 };

        List<int> alone = Generate(model, 512, new GenerationSequence(1, prompt, p));
        List<int> batched = Generate(
            model,
            12,
            new GenerationSequence(1, prompt, p),
            Others(96, i => new SamplingParams { Temperature = 0.8f, Seed = (ulong)i, MaxTokens = 9 }));

        Assert.Equal(alone, batched);
        Assert.NotEqual(alone, Generate(model, 512, new GenerationSequence(1, prompt, p with { Seed = 78 })));
    }

    [Fact]
    public void StopTokenAndMaxTokens_FinishWithTheRightReason()
    {
        using var model = TestModels.Random(ModelArchitecture.Mistral);
        int[] prompt = TestModels.Tokens(5, 2, 96);
        var greedy = new GenerationSequence(1, prompt, new SamplingParams { Temperature = 0, MaxTokens = 6 });
        Generate(model, 64, greedy);
        Assert.Equal(FinishReason.Length, greedy.FinishReason);
        Assert.Equal(6, greedy.OutputTokens.Count);

        int third = greedy.OutputTokens[2];
        var stopped = new GenerationSequence(2, prompt, new SamplingParams { Temperature = 0, MaxTokens = 6, StopTokenIds = [third] });
        Generate(model, 64, stopped);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(third, stopped.OutputTokens[^1]);
        Assert.True(stopped.OutputTokens.Count <= 3);
    }

    [Fact]
    public void MinTokens_StopIdEarly_GeneratesAtLeastMinTokensWithoutTheStopId()
    {
        using var model = TestModels.Random(ModelArchitecture.Llama);
        int[] prompt = TestModels.Tokens(6, 3, 96);
        var free = new GenerationSequence(1, prompt, new SamplingParams { Temperature = 0, MaxTokens = 20 });
        Generate(model, 64, free);
        int second = free.OutputTokens[1];

        var stopped = new GenerationSequence(2, prompt, new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [second] });
        Generate(model, 64, stopped);
        Assert.True(stopped.OutputTokens.Count <= 2, "the stop id must end the choice early without min_tokens");

        var held = new GenerationSequence(3, prompt, new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [second], MinTokens = 8 });
        Generate(model, 64, held);
        Assert.True(held.OutputTokens.Count >= 8, $"got {held.OutputTokens.Count} tokens");
        Assert.DoesNotContain(second, held.OutputTokens.Take(8));
        Assert.True(held.FinishReason == FinishReason.Length || held.OutputTokens[^1] == second);
    }

    [Fact]
    public void MinTokens_ReachedBeforeTheStopIdComes_SameTokensAsWithout()
    {
        using var model = TestModels.Random(ModelArchitecture.Llama);
        int[] prompt = TestModels.Tokens(6, 3, 96);
        var free = new GenerationSequence(1, prompt, new SamplingParams { Temperature = 0, MaxTokens = 20 });
        Generate(model, 64, free);

        // The first token that greedy decoding has not produced before: its first occurrence is at `at`.
        int at = Enumerable.Range(1, free.OutputTokens.Count - 1).First(k => !free.OutputTokens.Take(k).Contains(free.OutputTokens[k]));
        var p = new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [free.OutputTokens[at]] };
        List<int> without = Generate(model, 64, new GenerationSequence(2, prompt, p));
        Assert.Equal(at + 1, without.Count);

        foreach (int minTokens in new[] { 0, 1, at })
        {
            List<int> with = Generate(model, 64, new GenerationSequence(3, prompt, p with { MinTokens = minTokens }));
            Assert.Equal(without, with);
        }
    }

    [Fact]
    public void MinTokens_AloneAndBatchedWithRowsWithoutIt_IsIdentical()
    {
        using var model = TestModels.Random(ModelArchitecture.Qwen2);
        int[] prompt = TestModels.Tokens(7, 4, 96);
        var free = new GenerationSequence(1, prompt, new SamplingParams { Temperature = 0, MaxTokens = 12 });
        Generate(model, 64, free);
        var p = new SamplingParams { Temperature = 0.9f, Seed = 21, MaxTokens = 16, StopTokenIds = [free.OutputTokens[0], free.OutputTokens[1]], MinTokens = 10 };

        List<int> alone = Generate(model, 512, new GenerationSequence(1, prompt, p));
        List<int> batched = Generate(
            model,
            12,
            new GenerationSequence(1, prompt, p),
            Others(96, i => new SamplingParams { Temperature = i % 2 == 0 ? 0 : 0.8f, Seed = (ulong)i, MaxTokens = 9, MinTokens = i % 3 == 0 ? 4 : 0 }));

        Assert.True(alone.Count >= 10);
        Assert.Equal(alone, batched);
    }
}

using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Engine;

/// <summary>
/// The engine core driven step by step without a thread (as the benchmarks drive it): batch invariance, seeded
/// reproducibility, stop ids, max_tokens and min_tokens through the production step.
/// </summary>
public sealed class EngineCoreTests : IClassFixture<EngineFixture>, IDisposable
{
    private const int Vocab = 400;
    private readonly ModelRuntime _runtime;

    public EngineCoreTests(EngineFixture fixture)
    {
        _runtime = fixture.Runtime(kvMemory: "16MiB");
    }

    public void Dispose() => _runtime.Dispose();

    private List<int> Generate(int maxBatchedTokens, (int[], SamplingParams) target, params (int[], SamplingParams)[] others) =>
        CoreDriver.Generate(_runtime, maxBatchedTokens, target, others).Tokens;

    private CoreDriver.Output Run(int[] prompt, SamplingParams p) => CoreDriver.Generate(_runtime, 64, (prompt, p));

    private static (int[], SamplingParams)[] Others(Func<int, SamplingParams> parameters) =>
        Enumerable.Range(0, 7)
            .Select(i => (TestModels.Tokens(3 + (i * 5), 50 + i, Vocab), parameters(i)))
            .ToArray();

    [Fact]
    public void Greedy_AloneAndBatchedWithSevenMixedSequences_IsIdentical()
    {
        int[] prompt = TestModels.Tokens(13, 9, Vocab);
        var p = new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true };

        List<int> alone = Generate(512, (prompt, p));

        // A small token budget forces prompt chunks of the others to share steps with the target's decodes.
        List<int> batched = Generate(
            10,
            (prompt, p),
            Others(i => new SamplingParams { Temperature = 0, MaxTokens = 5 + (i * 4) }));

        Assert.Equal(24, alone.Count);
        Assert.Equal(alone, batched);
    }

    [Fact]
    public void Greedy_AloneAndBatched_LogprobsAreBitwiseEqual()
    {
        // Every step here runs on the host path, whose products, norms and attention compute each row the same way
        // whatever shares its step (a decode beside others, or beside prompt chunks): logprobs match to the bit,
        // not only the argmax.
        int[] prompt = TestModels.Tokens(11, 3, Vocab);
        var p = new SamplingParams { Temperature = 0, MaxTokens = 20, IgnoreEos = true, Logprobs = 2 };
        CoreDriver.Output alone = CoreDriver.Generate(_runtime, 512, (prompt, p));
        CoreDriver.Output batched = CoreDriver.Generate(
            _runtime,
            12,
            (prompt, p),
            Others(i => new SamplingParams { Temperature = 0.7f, Seed = (ulong)i, MaxTokens = 4 + (i * 3), FrequencyPenalty = 0.3f }));

        Assert.Equal(alone.Tokens, batched.Tokens);
        Assert.Equal(20, alone.Logprobs.Count);
        Assert.All(alone.Logprobs, l => Assert.True(l < 0));
        Assert.Equal(alone.Logprobs, batched.Logprobs);
    }

    [Fact]
    public void Seeded_AloneAndBatched_IsIdentical()
    {
        int[] prompt = TestModels.Tokens(7, 4, Vocab);
        var p = new SamplingParams { Temperature = 1.0f, TopP = 0.9f, Seed = 77, MaxTokens = 20 };

        List<int> alone = Generate(512, (prompt, p));
        List<int> batched = Generate(
            12,
            (prompt, p),
            Others(i => new SamplingParams { Temperature = 0.8f, Seed = (ulong)i, MaxTokens = 9 }));

        Assert.Equal(alone, batched);
        Assert.NotEqual(alone, Generate(512, (prompt, p with { Seed = 78 })));
    }

    [Fact]
    public void StopTokenAndMaxTokens_FinishWithTheRightReason()
    {
        int[] prompt = TestModels.Tokens(5, 2, Vocab);
        CoreDriver.Output greedy = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 6 });
        Assert.Equal(FinishReason.Length, greedy.Finish);
        Assert.Equal(6, greedy.Tokens.Count);
        Assert.Equal(6, greedy.Usage!.CompletionTokens);

        int third = greedy.Tokens[2];
        CoreDriver.Output stopped = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 6, StopTokenIds = [third] });
        Assert.Equal(FinishReason.Stop, stopped.Finish);
        Assert.Equal(third, stopped.Tokens[^1]);
        Assert.True(stopped.Tokens.Count <= 3);
    }

    [Fact]
    public void MinTokens_StopIdEarly_GeneratesAtLeastMinTokensWithoutTheStopId()
    {
        int[] prompt = TestModels.Tokens(6, 3, Vocab);
        List<int> free = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 20 }).Tokens;
        int second = free[1];

        List<int> stopped = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [second] }).Tokens;
        Assert.True(stopped.Count <= 2, "the stop id must end the choice early without min_tokens");

        CoreDriver.Output held = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [second], MinTokens = 8 });
        Assert.True(held.Tokens.Count >= 8, $"got {held.Tokens.Count} tokens");
        Assert.DoesNotContain(second, held.Tokens.Take(8));
        Assert.True(held.Finish == FinishReason.Length || held.Tokens[^1] == second);
    }

    [Fact]
    public void MinTokens_ReachedBeforeTheStopIdComes_SameTokensAsWithout()
    {
        int[] prompt = TestModels.Tokens(6, 3, Vocab);
        List<int> free = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 20 }).Tokens;

        // The first token that greedy decoding has not produced before: its first occurrence is at `at`.
        int at = Enumerable.Range(1, free.Count - 1).First(k => !free.Take(k).Contains(free[k]));
        var p = new SamplingParams { Temperature = 0, MaxTokens = 20, StopTokenIds = [free[at]] };
        List<int> without = Generate(64, (prompt, p));
        Assert.Equal(at + 1, without.Count);

        foreach (int minTokens in new[] { 0, 1, at })
        {
            List<int> with = Generate(64, (prompt, p with { MinTokens = minTokens }));
            Assert.Equal(without, with);
        }
    }

    [Fact]
    public void MinTokens_AloneAndBatchedWithRowsWithoutIt_IsIdentical()
    {
        int[] prompt = TestModels.Tokens(7, 4, Vocab);
        List<int> free = Run(prompt, new SamplingParams { Temperature = 0, MaxTokens = 12 }).Tokens;
        var p = new SamplingParams { Temperature = 0.9f, Seed = 21, MaxTokens = 16, StopTokenIds = [free[0], free[1]], MinTokens = 10 };

        List<int> alone = Generate(512, (prompt, p));
        List<int> batched = Generate(
            12,
            (prompt, p),
            Others(i => new SamplingParams { Temperature = i % 2 == 0 ? 0 : 0.8f, Seed = (ulong)i, MaxTokens = 9, MinTokens = i % 3 == 0 ? 4 : 0 }));

        Assert.True(alone.Count >= 10);
        Assert.Equal(alone, batched);
    }

    [Fact]
    public void Step_ThousandFullEngineSteps_LiveTensorCountStaysFlat()
    {
        // Full steps (plan, forward, sample, update) over every path: prefill chunks, host decode with host products
        // (up to 4 rows) and with libtorch products (more rows), penalties, logprobs, seeded sampling.
        EngineCore core = CoreDriver.Core(_runtime, maxBatchedTokens: 24);
        int added = 0;
        void Refill()
        {
            while (core.LiveRequests < 1 + (added % 7))
            {
                var p = new SamplingParams
                {
                    Temperature = added % 2 == 0 ? 0 : 0.9f,
                    Seed = (ulong)added,
                    MaxTokens = 5 + (added % 13),
                    IgnoreEos = true,
                    PresencePenalty = added % 3 == 0 ? 0.5f : 0,
                    Logprobs = added % 4 == 0 ? 2 : null,
                };
                CoreDriver.Add(core, $"r{added}", TestModels.Tokens(3 + (added % 17), added, Vocab), p);
                added++;
            }
        }

        Refill();
        core.Step();
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 1000; i++)
        {
            Refill();
            Assert.True(core.Step());
        }

        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
        Assert.True(added > 100, $"only {added} requests ran");
    }
}

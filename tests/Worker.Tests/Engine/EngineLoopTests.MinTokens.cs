using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Engine;

public sealed partial class EngineLoopTests
{
    [Fact]
    public async Task Generate_MinTokensWithEosForcedByBias_EndsRightAfterMinTokens()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int eos = runtime.EosTokenIds[0];
        int[] prompt = TestModels.Tokens(9, 31, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 20, LogitBias = new Dictionary<int, float> { [eos] = 100 } };

        Result eager = await Collect(Submit(engine, Request("eager", prompt, sampling))).WaitAsync(Timeout);
        Result held = await Collect(Submit(engine, Request("held", prompt, sampling with { MinTokens = 5 }))).WaitAsync(Timeout);

        Assert.Equal([eos], eager.Tokens[0]);
        Assert.Equal(6, held.Tokens[0].Count);
        Assert.DoesNotContain(eos, held.Tokens[0].Take(5));
        Assert.Equal(eos, held.Tokens[0][^1]);
        Assert.Equal(FinishReason.Stop, held.Finish[0]);
        await WaitIdle(engine);
    }

    [Fact]
    public async Task Generate_MinTokensZero_SameTokensAsWithout()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int[] prompt = TestModels.Tokens(9, 32, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 12 };
        Result free = await Collect(Submit(engine, Request("free", prompt, sampling))).WaitAsync(Timeout);
        SamplingParams stopping = sampling with { StopTokenIds = [free.Tokens[0][2]] };

        Result without = await Collect(Submit(engine, Request("without", prompt, stopping))).WaitAsync(Timeout);
        Result zero = await Collect(Submit(engine, Request("zero", prompt, stopping with { MinTokens = 0 }))).WaitAsync(Timeout);

        Assert.True(without.Tokens[0].Count <= 3);
        Assert.Equal(without.Tokens[0], zero.Tokens[0]);
        Assert.Equal(without.Text[0], zero.Text[0]);
    }

    [Fact]
    public async Task Generate_MinTokens_StopStringIsNotMatchedBeforeMinTokens()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        int[] prompt = TestModels.Tokens(9, 77, 400);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true };
        Result full = await Collect(Submit(engine, Request("full", prompt, sampling))).WaitAsync(Timeout);

        // A stop string inside the first token's text would end the choice after one token.
        string firstToken = runtime.Tokenizer.Decode([full.Tokens[0][0]]);
        Assert.True(firstToken.Length >= 1, "the first token must produce text");
        string stop = firstToken[..1];
        Result early = await Collect(Submit(engine, Request("early", prompt, sampling, stops: [stop]))).WaitAsync(Timeout);
        Assert.Equal(FinishReason.Stop, early.Finish[0]);
        Assert.True(early.Tokens[0].Count <= 2);

        Result held = await Collect(Submit(engine, Request("held", prompt, sampling with { MinTokens = 10 }, stops: [stop]))).WaitAsync(Timeout);

        Assert.True(held.Tokens[0].Count >= 10, $"got {held.Tokens[0].Count} tokens");
        Assert.Equal(full.Tokens[0].Take(held.Tokens[0].Count), held.Tokens[0]);
        Assert.StartsWith(held.Text[0], full.Text[0], StringComparison.Ordinal);

        // The text runs past the first occurrence; if it was cut, it was cut right before a later one.
        Assert.True(held.Text[0].Length > full.Text[0].IndexOf(stop, StringComparison.Ordinal));
        if (held.Finish[0] == FinishReason.Stop)
        {
            Assert.StartsWith(stop, full.Text[0][held.Text[0].Length..], StringComparison.Ordinal);
        }

        await WaitIdle(engine);
    }

    [Fact]
    public async Task Generate_BatchMixingMinTokens_EachRequestMatchesRunningAlone()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        int eos = runtime.EosTokenIds[0];
        var bias = new Dictionary<int, float> { [eos] = 6 };
        int[][] prompts = Enumerable.Range(0, 6).Select(i => TestModels.Tokens(5 + (3 * i), 200 + i, 400)).ToArray();
        SamplingParams[] sampling =
        [
            new() { Temperature = 0, MaxTokens = 20, LogitBias = bias, MinTokens = 7 },
            new() { Temperature = 0, MaxTokens = 20, LogitBias = bias },
            new() { Temperature = 0.9f, Seed = 5, MaxTokens = 20, LogitBias = bias, MinTokens = 12 },
            new() { Temperature = 0.9f, Seed = 5, MaxTokens = 20, LogitBias = bias },
            new() { Temperature = 1.1f, Seed = 8, TopK = 40, MaxTokens = 20, LogitBias = bias, StopTokenIds = [1, 2, 3], MinTokens = 20 },
            new() { Temperature = 0, MaxTokens = 20, IgnoreEos = true },
        ];

        var alone = new List<Result>();
        using (EngineLoop engine = Engine(runtime))
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                alone.Add(await Collect(Submit(engine, Request($"a{i}", prompts[i], sampling[i]))).WaitAsync(Timeout));
            }

            await WaitIdle(engine);
        }

        // Together, with a small token budget so prompt chunks share steps with decodes.
        using EngineLoop batched = Engine(runtime, new SchedulerOptions { MaxNumBatchedTokens = 16 });
        GenerationStream[] streams = prompts.Select((p, i) => Submit(batched, Request($"b{i}", p, sampling[i]))).ToArray();
        Result[] together = await Task.WhenAll(streams.Select(s => Collect(s))).WaitAsync(Timeout);

        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(alone[i].Tokens[0], together[i].Tokens[0]);
            Assert.Equal(alone[i].Finish[0], together[i].Finish[0]);
            int min = sampling[i].MinTokens;
            Assert.True(alone[i].Tokens[0].Count >= min, $"request {i}: {alone[i].Tokens[0].Count} tokens < min_tokens {min}");
            Assert.DoesNotContain(eos, alone[i].Tokens[0].Take(min));
        }

        // The bias makes EOS come early for the rows without min_tokens, so min_tokens is really exercised.
        Assert.True(alone[1].Tokens[0].Count < 7, $"row 1 should end early, got {alone[1].Tokens[0].Count} tokens");
        await WaitIdle(batched);
    }

    [Fact]
    public void Submit_MinTokensAboveMaxTokens_IsRefusedNamingIt()
    {
        using ModelRuntime runtime = _fixture.Runtime();
        using EngineLoop engine = Engine(runtime);
        Refusal? refusal = engine.Submit(Request("bad", TestModels.Tokens(4, 1, 400), new SamplingParams { MaxTokens = 4, MinTokens = 5 }), out _);
        Assert.Equal(RefusalKind.Invalid, refusal?.Kind);
        Assert.Equal("min_tokens", refusal!.Param);
        Assert.Contains("min_tokens", refusal.Message, StringComparison.Ordinal);
    }
}

using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Sampling;

public sealed class SamplerTests
{
    private const int Vocab = 50;

    private static Tensor RandomLogits(int rows, int seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        return randn([rows, Vocab], generator: generator) * 2;
    }

    private static SampleRequest Row(SamplingParams p, double u, IReadOnlyList<int>? prompt = null, IReadOnlyList<int>? output = null) =>
        new(p, prompt ?? [], output ?? [], u);

    [Fact]
    public void Sample_TopKOne_EqualsGreedy()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(16, 1);
        var rows = new List<SampleRequest>();
        var random = new Random(5);
        for (int i = 0; i < 16; i++)
        {
            rows.Add(Row(new SamplingParams { Temperature = 1.3f, TopK = 1 }, random.NextDouble()));
        }

        var result = new SampleResult();
        new Sampler().Sample(logits, rows, result);
        long[] argmax = logits.argmax(1).data<long>().ToArray();
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(argmax[i], result.TokenIds[i]);
        }
    }

    [Fact]
    public void Sample_TopP_NeverPicksOutsideNucleus()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(1, 2);
        float[] probs = logits.softmax(1).data<float>().ToArray();
        int[] order = Enumerable.Range(0, Vocab).OrderByDescending(i => probs[i]).ToArray();
        var nucleus = new HashSet<int>();
        float mass = 0;
        foreach (int token in order)
        {
            if (mass >= 0.6f)
            {
                break;
            }

            nucleus.Add(token);
            mass += probs[token];
        }

        var seen = new HashSet<int>();
        var random = new Random(9);
        var sampler = new Sampler();
        var result = new SampleResult();
        for (int draw = 0; draw < 2000; draw++)
        {
            sampler.Sample(logits, [Row(new SamplingParams { TopP = 0.6f }, random.NextDouble())], result);
            Assert.Contains(result.TokenIds[0], nucleus);
            seen.Add(result.TokenIds[0]);
        }

        // The filter keeps the whole nucleus reachable, not just its head.
        Assert.Equal(nucleus.Count, seen.Count);
    }

    [Fact]
    public void Sample_MinP_NeverPicksBelowThreshold()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(1, 3);
        float[] probs = logits.softmax(1).data<float>().ToArray();
        float threshold = 0.2f * probs.Max();
        var random = new Random(11);
        var sampler = new Sampler();
        var result = new SampleResult();
        var seen = new HashSet<int>();
        for (int draw = 0; draw < 2000; draw++)
        {
            sampler.Sample(logits, [Row(new SamplingParams { MinP = 0.2f }, random.NextDouble())], result);
            Assert.True(probs[result.TokenIds[0]] >= threshold, $"token {result.TokenIds[0]} p={probs[result.TokenIds[0]]} < {threshold}");
            seen.Add(result.TokenIds[0]);
        }

        Assert.True(seen.Count > 1);
    }

    [Fact]
    public void Sample_Temperature_FollowsTheSoftmaxDistribution()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(1, 4);
        float[] probs = (logits / 0.7f).softmax(1).data<float>().ToArray();
        var counts = new int[Vocab];
        var sampler = new Sampler();
        var result = new SampleResult();
        const int Draws = 4000;
        for (int draw = 0; draw < Draws; draw++)
        {
            // Evenly spaced draws make the empirical distribution converge deterministically.
            sampler.Sample(logits, [Row(new SamplingParams { Temperature = 0.7f }, (draw + 0.5) / Draws)], result);
            counts[result.TokenIds[0]]++;
        }

        for (int i = 0; i < Vocab; i++)
        {
            Assert.True(Math.Abs((counts[i] / (double)Draws) - probs[i]) < 0.002, $"token {i}: {counts[i] / (double)Draws} vs {probs[i]}");
        }
    }

    [Fact]
    public void Sample_SameSeedInDifferentBatches_PicksSameTokens()
    {
        using var scope = NewDisposeScope();
        Tensor target = RandomLogits(1, 5);
        var p = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, TopK = 20, Seed = 1234 };
        var sampler = new Sampler();
        var result = new SampleResult();

        var alone = new List<int>();
        var batched = new List<int>();
        for (int step = 0; step < 50; step++)
        {
            double u = SeededUniform.At(p.Seed!.Value, step);
            sampler.Sample(target, [Row(p, u)], result);
            alone.Add(result.TokenIds[0]);

            // Same row at a different index, among rows with other settings (greedy, plain, filtered, penalised).
            Tensor others = RandomLogits(4, 100 + step);
            Tensor batch = cat([others.narrow(0, 0, 2), target, others.narrow(0, 2, 2)], 0);
            sampler.Sample(
                batch,
                [
                    Row(SamplingParams.Greedy, 0),
                    Row(new SamplingParams { Temperature = 1.5f }, 0.3),
                    Row(p, u),
                    Row(new SamplingParams { TopP = 0.5f, RepetitionPenalty = 1.3f, Logprobs = 3 }, 0.7, [1, 2, 3]),
                    Row(new SamplingParams { MinP = 0.1f, LogitBias = new Dictionary<int, float> { [3] = 5 } }, 0.1),
                ],
                result);
            batched.Add(result.TokenIds[2]);
        }

        Assert.Equal(alone, batched);
        Assert.True(alone.Distinct().Count() > 1, "a seeded sampler that always picks one token proves nothing");
    }

    [Fact]
    public void Sample_TopPOnLargeVocabulary_SameTokensWhetherTheStepSortsAllOrTriesCandidates()
    {
        // A peaked row alone takes the candidates path (its nucleus is in the top 64 of 2000); a broad row (a nucleus
        // of a few hundred) and a near-uniform one need the full sort. Beside each other, a step takes the full sort
        // when any row needs it: every row must pick the same tokens as alone.
        using var scope = NewDisposeScope();
        const int vocab = 2000;
        using var g = new TorchSharp.torch.Generator(9);
        Tensor peaked = randn([1, vocab], generator: g) * 4;
        Tensor broad = randn([1, vocab], generator: g) * 2.5;
        Tensor flat = randn([1, vocab], generator: g) * 0.05;
        var p = new SamplingParams { Temperature = 1f, TopP = 0.8f, Seed = 5 };
        var sampler = new Sampler();
        var result = new SampleResult();
        Tensor[] rows = [peaked, broad, flat];
        var alone = rows.Select(_ => new List<int>()).ToArray();
        var pairs = rows.Select(_ => new List<int>()).ToArray();
        var all = rows.Select(_ => new List<int>()).ToArray();
        for (int step = 0; step < 60; step++)
        {
            double[] u = [SeededUniform.At(5, step), SeededUniform.At(6, step), SeededUniform.At(7, step)];
            for (int r = 0; r < rows.Length; r++)
            {
                sampler.Sample(rows[r], [Row(p, u[r])], result);
                alone[r].Add(result.TokenIds[0]);
            }

            // Peaked beside broad, and all three (both full sorts).
            sampler.Sample(cat([broad, peaked], 0), [Row(p, u[1]), Row(p, u[0])], result);
            pairs[1].Add(result.TokenIds[0]);
            pairs[0].Add(result.TokenIds[1]);
            sampler.Sample(cat([flat, broad, peaked], 0), [Row(p, u[2]), Row(p, u[1]), Row(p, u[0])], result);
            all[2].Add(result.TokenIds[0]);
            all[1].Add(result.TokenIds[1]);
            all[0].Add(result.TokenIds[2]);
        }

        Assert.Equal(alone[0], pairs[0]);
        Assert.Equal(alone[1], pairs[1]);
        for (int r = 0; r < rows.Length; r++)
        {
            Assert.Equal(alone[r], all[r]);
        }

        // The rows really need the three paths: their nucleus sizes.
        int Nucleus(Tensor row)
        {
            float[] sorted = row.softmax(1).sort(1, descending: true).Values.data<float>().ToArray();
            int kept = 0;
            double before = 0;
            while (kept < sorted.Length && before < 0.8)
            {
                before += sorted[kept++];
            }

            return kept;
        }

        Assert.InRange(Nucleus(peaked), 2, 64);
        Assert.InRange(Nucleus(broad), 65, 512);
        Assert.InRange(Nucleus(flat), 513, vocab);
        Assert.True(alone[1].Distinct().Count() > 20, "the broad row must sample among many tokens");
    }

    [Fact]
    public void ApplyPenalties_MatchesDefinitions()
    {
        using var scope = NewDisposeScope();
        float[] raw = [2f, -1f, 3f, 0.5f, -2f, 1f];
        Tensor logits = tensor(raw).view(1, 6);
        var p = new SamplingParams { RepetitionPenalty = 2f, PresencePenalty = 0.5f, FrequencyPenalty = 0.25f };

        // Prompt has 0 and 1; output has 2 twice and 4 once.
        Tensor x = logits.clone();
        Sampler.ApplyPenalties(x, [Row(p, 0, [0, 1], [2, 2, 4])]);
        float[] actual = x.data<float>().ToArray();

        float[] expected =
        [
            2f / 2,                     // seen in prompt, positive: divided
            -1f * 2,                    // seen in prompt, negative: multiplied
            (3f / 2) - (2 * 0.25f) - 0.5f, // output twice: repetition, then frequency x2 and presence
            0.5f,                       // never seen
            (-2f * 2) - 0.25f - 0.5f,   // output once
            1f,
        ];
        for (int i = 0; i < raw.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 5);
        }
    }

    [Fact]
    public void Sample_PenaltiesAndBias_ChangeGreedyChoice()
    {
        using var scope = NewDisposeScope();
        Tensor logits = tensor(new float[] { 0f, 5f, 4f, 1f }).view(1, 4);
        var sampler = new Sampler();
        var result = new SampleResult();

        sampler.Sample(logits, [Row(new SamplingParams { Temperature = 0, FrequencyPenalty = 0.4f }, 0, [], [1])], result);
        Assert.Equal(1, result.TokenIds[0]); // 5 - 0.4 still beats 4

        sampler.Sample(logits, [Row(new SamplingParams { Temperature = 0, FrequencyPenalty = 0.4f }, 0, [], [1, 1, 1])], result);
        Assert.Equal(2, result.TokenIds[0]); // 5 - 1.2 < 4

        sampler.Sample(logits, [Row(new SamplingParams { Temperature = 0, RepetitionPenalty = 1.5f }, 0, [1], [])], result);
        Assert.Equal(2, result.TokenIds[0]); // 5 / 1.5 < 4

        sampler.Sample(logits, [Row(new SamplingParams { Temperature = 0, LogitBias = new Dictionary<int, float> { [3] = 10 } }, 0)], result);
        Assert.Equal(3, result.TokenIds[0]);
    }

    [Fact]
    public void Sample_Logprobs_AreRawLogSoftmaxWithSortedAlternatives()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(2, 6);
        float[] lp = logits.log_softmax(1).data<float>().ToArray();
        var result = new SampleResult();
        new Sampler().Sample(
            logits,
            [Row(new SamplingParams { Temperature = 0, Logprobs = 4, RepetitionPenalty = 3f }, 0, [0, 1, 2]), Row(new SamplingParams { Temperature = 0 }, 0)],
            result);

        int token = result.TokenIds[0];
        Assert.Equal(lp[token], result.Logprobs[0], 5);
        Assert.Equal(4, result.TopN);
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(lp[result.TopIds[j]], result.TopLogprobs[j], 5);
            if (j > 0)
            {
                Assert.True(result.TopLogprobs[j] <= result.TopLogprobs[j - 1]);
            }
        }

        Assert.True(float.IsNaN(result.Logprobs[1]));
    }

    [Theory]
    [InlineData(-0.5f, 1f, 0f, "temperature")]
    [InlineData(1f, 0f, 0f, "top_p")]
    [InlineData(1f, 1.5f, 0f, "top_p")]
    [InlineData(1f, 1f, 3f, "presence_penalty")]
    public void Validate_OutOfRange_NamesTheParameter(float temperature, float topP, float presence, string param)
    {
        var p = new SamplingParams { Temperature = temperature, TopP = topP, PresencePenalty = presence };
        var ex = Assert.Throws<InvalidParameterException>(() => p.Validate(100));
        Assert.Equal(param, ex.Param);
    }

    [Fact]
    public void Validate_LogitBiasOutsideVocab_Throws()
    {
        var p = new SamplingParams { LogitBias = new Dictionary<int, float> { [100] = 1 } };
        var ex = Assert.Throws<InvalidParameterException>(() => p.Validate(100));
        Assert.Equal("logit_bias", ex.Param);
        Assert.Contains("100", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.8f)]
    [InlineData(1.5f)]
    public void Sample_BelowMinTokens_NeverPicksEosOrStopIds(float temperature)
    {
        using var scope = NewDisposeScope();

        // EOS (7) and the stop id (9) hold nearly all the mass.
        float[] raw = new float[Vocab];
        raw[7] = 20f;
        raw[9] = 19f;
        raw[3] = 1f;
        Tensor logits = tensor(raw).view(1, Vocab);
        var p = new SamplingParams { Temperature = temperature, TopK = temperature > 1 ? 5 : 0, StopTokenIds = [9], MinTokens = 4 };
        var sampler = new Sampler([7]);
        var result = new SampleResult();
        var random = new Random(13);
        for (int draw = 0; draw < 200; draw++)
        {
            sampler.Sample(logits, [new SampleRequest(p, [], [], random.NextDouble(), BelowMinTokens: true)], result);
            Assert.NotEqual(7, result.TokenIds[0]);
            Assert.NotEqual(9, result.TokenIds[0]);
        }

        // Once min_tokens is reached the row samples from the unmasked distribution again.
        sampler.Sample(logits, [new SampleRequest(p with { Temperature = 0 }, [], [], 0, BelowMinTokens: false)], result);
        Assert.Equal(7, result.TokenIds[0]);
    }

    [Fact]
    public void Sample_BelowMinTokens_MasksAfterLogitBiasAndPenalties()
    {
        using var scope = NewDisposeScope();
        Tensor logits = tensor(new float[] { 0f, 5f, 4f, 1f }).view(1, 4);
        var p = new SamplingParams
        {
            Temperature = 0,
            // Bias and penalty lift EOS (3) far above the rest; the mask is applied after both.
            LogitBias = new Dictionary<int, float> { [3] = 100 },
            RepetitionPenalty = 0.5f,
            MinTokens = 1,
        };
        var result = new SampleResult();
        new Sampler([3]).Sample(logits, [new SampleRequest(p, [3], [], 0, BelowMinTokens: true)], result);
        Assert.Equal(1, result.TokenIds[0]);
    }

    [Fact]
    public void Sample_BelowMinTokens_LogprobsStayRaw()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(1, 8);
        float[] lp = logits.log_softmax(1).data<float>().ToArray();
        int eos = (int)logits.argmax(1).item<long>();
        var result = new SampleResult();
        new Sampler([eos]).Sample(
            logits,
            [new SampleRequest(new SamplingParams { Temperature = 0, Logprobs = 2, MinTokens = 3 }, [], [], 0, BelowMinTokens: true)],
            result);

        // The chosen token is the runner-up; its logprob and the alternatives are the raw model's,
        // so the masked EOS is still reported as the top alternative (as with logit_bias).
        int token = result.TokenIds[0];
        Assert.NotEqual(eos, token);
        Assert.Equal(lp[token], result.Logprobs[0], 5);
        Assert.Equal(eos, result.TopIds[0]);
        Assert.Equal(lp[eos], result.TopLogprobs[0], 5);
        Assert.Equal(token, result.TopIds[1]);
    }

    [Fact]
    public void Sample_BatchMixingMinTokensRows_EachRowMatchesSamplingAlone()
    {
        using var scope = NewDisposeScope();
        Tensor logits = RandomLogits(6, 9);
        long[] argmax = logits.argmax(1).data<long>().ToArray();
        var sampler = new Sampler([(int)argmax[0], 2]);
        SampleRequest[] rows =
        [
            new(new SamplingParams { Temperature = 0, MinTokens = 2 }, [], [], 0, BelowMinTokens: true),
            new(SamplingParams.Greedy, [], [], 0),
            new(new SamplingParams { Temperature = 0.9f, Seed = 3, StopTokenIds = [(int)argmax[2]], MinTokens = 5 }, [], [], 0.4, BelowMinTokens: true),
            new(new SamplingParams { Temperature = 0.9f, Seed = 3, StopTokenIds = [(int)argmax[3]] }, [], [], 0.4),
            new(new SamplingParams { TopK = 10, TopP = 0.8f, StopTokenIds = [(int)argmax[4]], MinTokens = 5, Logprobs = 2 }, [], [], 0.9, BelowMinTokens: true),
            new(new SamplingParams { Temperature = 0, FrequencyPenalty = 1f, MinTokens = 1 }, [], [(int)argmax[5]], 0, BelowMinTokens: false),
        ];

        var batched = new SampleResult();
        sampler.Sample(logits, rows, batched);
        var alone = new SampleResult();
        for (int i = 0; i < rows.Length; i++)
        {
            sampler.Sample(logits.narrow(0, i, 1), [rows[i]], alone);
            Assert.Equal(alone.TokenIds[0], batched.TokenIds[i]);
        }

        Assert.NotEqual(argmax[0], batched.TokenIds[0]);
        Assert.Equal(argmax[1], batched.TokenIds[1]);
        Assert.NotEqual(argmax[4], batched.TokenIds[4]);
    }

    [Theory]
    [InlineData(-1, 16)]
    [InlineData(17, 16)]
    public void Validate_MinTokensOutOfRange_NamesMinTokens(int minTokens, int maxTokens)
    {
        var p = new SamplingParams { MinTokens = minTokens, MaxTokens = maxTokens };
        var ex = Assert.Throws<InvalidParameterException>(() => p.Validate(100));
        Assert.Equal("min_tokens", ex.Param);
        Assert.Contains(minTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MinTokensEqualToMaxTokens_IsAccepted()
    {
        new SamplingParams { MinTokens = 16, MaxTokens = 16 }.Validate(100);
    }
}

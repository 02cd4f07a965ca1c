using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Sampling;

/// <summary>
/// The persistent sampling batch: its incrementally kept penalty state samples exactly as a batch built from each
/// row's whole history, through joins, leaves and row reuse; a steady step uploads only what changed.
/// </summary>
public sealed class SamplingBatchTests
{
    private const int Vocab = 40;

    private sealed class Seq
    {
        public required SamplingParams Params { get; init; }
        public required int[] Prompt { get; init; }
        public List<int> Output { get; } = [];
        public int Row { get; set; } = -1;
    }

    [Fact]
    public void PersistentState_OverJoinsLeavesAndReuse_SamplesAsTheWholeHistory()
    {
        var random = new Random(3);
        var sampler = new Sampler([2]);
        using var batch = new SamplingBatch(2, Vocab, CPU); // small: rows and penalty slots must grow
        var live = new List<Seq>();
        int penalisedSteps = 0;
        for (int step = 0; step < 120; step++)
        {
            using var scope = NewDisposeScope();

            // Joins (some with output already, as after a preemption) and leaves (which free rows for reuse).
            if (live.Count < 6 && random.Next(3) == 0)
            {
                var seq = new Seq { Params = RandomParams(random), Prompt = Tokens(random, random.Next(0, 6)) };
                seq.Output.AddRange(Tokens(random, random.Next(0, 4)));
                live.Add(seq);
            }

            if (live.Count > 1 && random.Next(5) == 0)
            {
                int leaving = random.Next(live.Count);
                if (live[leaving].Row >= 0)
                {
                    batch.Leave(live[leaving].Row);
                }

                live.RemoveAt(leaving);
            }

            if (live.Count == 0)
            {
                continue;
            }

            // A random subset of the live sequences samples this step, in a random order.
            List<Seq> rows = live.Where(_ => random.Next(4) != 0).OrderBy(_ => random.Next()).ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            using var generator = new Generator((ulong)step);
            Tensor logits = randn([rows.Count, Vocab], generator: generator) * 3;
            var oneOff = new List<SampleRequest>();
            batch.BeginStep();
            foreach (Seq seq in rows)
            {
                if (seq.Row < 0)
                {
                    seq.Row = batch.Join(seq.Params, seq.Prompt, seq.Output);
                }

                double u = random.NextDouble();
                bool belowMin = seq.Output.Count < seq.Params.MinTokens;
                batch.AddRow(seq.Row, u, belowMin);
                oneOff.Add(new SampleRequest(seq.Params, seq.Prompt, [.. seq.Output], u, belowMin));
                penalisedSteps += seq.Params.FrequencyPenalty != 0 ? 1 : 0;
            }

            var persistent = new SampleResult();
            var expected = new SampleResult();
            sampler.Sample(logits, batch, persistent);
            sampler.Sample(logits, oneOff, expected);
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.Equal(expected.TokenIds[i], persistent.TokenIds[i]);
                rows[i].Output.Add(persistent.TokenIds[i]);
                batch.Appended(rows[i].Row, persistent.TokenIds[i]);
            }
        }

        Assert.True(penalisedSteps > 50, $"only {penalisedSteps} penalised rows sampled: the test proves little");
        Assert.True(batch.Capacity > 2, "the batch never grew");
    }

    [Fact]
    public void PersistentState_RowReusedAfterLeave_DoesNotInheritTheOldHistory()
    {
        using var scope = NewDisposeScope();
        var sampler = new Sampler();
        using var batch = new SamplingBatch(1, 4, CPU);
        Tensor logits = tensor(new float[] { 0f, 5f, 4f, 1f }).view(1, 4);
        var p = new SamplingParams { Temperature = 0, FrequencyPenalty = 2f };
        var result = new SampleResult();

        int row = batch.Join(p, [], [1, 1]);
        batch.BeginStep();
        batch.AddRow(row, 0, false);
        sampler.Sample(logits, batch, result);
        Assert.Equal(2, result.TokenIds[0]); // 5 - 4 < 4
        batch.Appended(row, 2);
        batch.Leave(row);

        int again = batch.Join(p, [], []);
        Assert.Equal(row, again);
        batch.BeginStep();
        batch.AddRow(again, 0, false);
        sampler.Sample(logits, batch, result);
        Assert.Equal(1, result.TokenIds[0]); // a fresh history: no penalty on 1
    }

    [Fact]
    public void SteadyStep_UploadsOnlyUniformsAndNewTokens()
    {
        var sampler = new Sampler();
        using var batch = new SamplingBatch(8, Vocab, CPU);
        var result = new SampleResult();
        int greedy = batch.Join(SamplingParams.Greedy, [1, 2], []);
        int sampled = batch.Join(new SamplingParams { Temperature = 0.8f, TopP = 0.9f, FrequencyPenalty = 0.5f, LogitBias = new Dictionary<int, float> { [3] = 1f } }, [1, 2], []);
        var random = new Random(1);

        void Step(bool withSampled)
        {
            using var scope = NewDisposeScope();
            Tensor logits = randn([withSampled ? 2 : 1, Vocab]);
            batch.BeginStep();
            batch.AddRow(greedy, 0, false);
            if (withSampled)
            {
                batch.AddRow(sampled, random.NextDouble(), false);
            }

            sampler.Sample(logits, batch, result);
            batch.Appended(greedy, result.TokenIds[0]);
            if (withSampled)
            {
                batch.Appended(sampled, result.TokenIds[1]);
            }
        }

        Step(withSampled: true);
        long builds = batch.LayoutBuilds;
        long uploads = batch.Uploads;
        long bytes = batch.UploadedBytes;
        for (int i = 0; i < 10; i++)
        {
            Step(withSampled: true);
        }

        // Per steady step: the sampled row's uniform (one float), and its new token for its penalty state (slot and
        // token, two longs). Nothing else.
        Assert.Equal(builds, batch.LayoutBuilds);
        Assert.Equal(uploads + (10 * 2), batch.Uploads);
        Assert.Equal(bytes + (10 * (sizeof(float) + (2 * sizeof(long)))), batch.UploadedBytes);

        // A greedy row alone without penalties uploads nothing once its layout is built.
        Step(withSampled: false);
        Assert.Equal(builds + 1, batch.LayoutBuilds);
        uploads = batch.Uploads;
        for (int i = 0; i < 10; i++)
        {
            Step(withSampled: false);
        }

        Assert.Equal(uploads, batch.Uploads);
    }

    [Fact]
    public void AddRow_RowNotJoined_Throws()
    {
        using var batch = new SamplingBatch(4, Vocab, CPU);
        int row = batch.Join(SamplingParams.Greedy, [], []);
        batch.Leave(row);
        batch.BeginStep();
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.AddRow(row, 0, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Leave(row));
    }

    private static SamplingParams RandomParams(Random random) => random.Next(4) switch
    {
        0 => new SamplingParams { Temperature = 0 },
        1 => new SamplingParams { Temperature = 0, FrequencyPenalty = 1.5f, PresencePenalty = 0.7f, RepetitionPenalty = 1.3f },
        2 => new SamplingParams { Temperature = 0.9f, TopK = 5, FrequencyPenalty = 0.8f, MinTokens = 3, StopTokenIds = [7] },
        _ => new SamplingParams { Temperature = 1.1f, MinP = 0.05f, FrequencyPenalty = 2f, LogitBias = new Dictionary<int, float> { [5] = 3f } },
    };

    private static int[] Tokens(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => random.Next(Vocab)).ToArray();
}

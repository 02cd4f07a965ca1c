using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Engine;

/// <summary>Drives an <see cref="EngineCore"/> directly (no thread): add requests, step until idle, read the events.</summary>
internal static class CoreDriver
{
    public sealed record Output(List<int> Tokens, FinishReason Finish, RequestUsage? Usage, List<float> Logprobs);

    public static EngineCore Core(ModelRuntime runtime, int maxBatchedTokens = 2048, ulong seed = 1) =>
        new(runtime, new EngineOptions { Scheduler = new SchedulerOptions { MaxNumBatchedTokens = maxBatchedTokens } }, TimeProvider.System, new Random((int)seed));

    public static ChannelReader<EngineEvent> Add(EngineCore core, string id, IReadOnlyList<int> prompt, SamplingParams sampling)
    {
        Refusal? refusal = core.Add(new GenerationRequest { RequestId = id, PromptTokens = prompt, Sampling = sampling }, out ChannelReader<EngineEvent>? events);
        Assert.Null(refusal);
        return events!;
    }

    /// <summary>Steps until no request is left; a step that plans nothing with work left is a bug here (no memory pressure).</summary>
    public static int RunToCompletion(EngineCore core)
    {
        int steps = 0;
        while (core.HasWork)
        {
            Assert.True(core.Step(), "a step planned nothing while requests were waiting");
            steps++;
            Assert.True(steps < 100_000, "the core did not finish");
        }

        return steps;
    }

    /// <summary>Reads one single-choice request's whole stream (it must have ended).</summary>
    public static Output Read(ChannelReader<EngineEvent> events)
    {
        var tokens = new List<int>();
        var logprobs = new List<float>();
        FinishReason finish = FinishReason.None;
        RequestUsage? usage = null;
        while (events.TryRead(out EngineEvent e))
        {
            Assert.Null(e.Error);
            if (e.HasToken)
            {
                tokens.Add(e.TokenId);
                logprobs.Add(e.Logprob);
            }

            if (e.Finish != FinishReason.None)
            {
                finish = e.Finish;
            }

            usage ??= e.Usage;
        }

        Assert.True(events.Completion.IsCompleted, "the stream has not ended");
        return new Output(tokens, finish, usage, logprobs);
    }

    /// <summary>Generates for <paramref name="target"/> alone or beside <paramref name="others"/> and returns its output.</summary>
    public static Output Generate(ModelRuntime runtime, int maxBatchedTokens, (int[] Prompt, SamplingParams Sampling) target, params (int[] Prompt, SamplingParams Sampling)[] others)
    {
        EngineCore core = Core(runtime, maxBatchedTokens);
        ChannelReader<EngineEvent> events = Add(core, "target", target.Prompt, target.Sampling);
        for (int i = 0; i < others.Length; i++)
        {
            Add(core, $"other-{i}", others[i].Prompt, others[i].Sampling);
        }

        RunToCompletion(core);
        Assert.Equal(0, core.UsedBlocks);
        Assert.Equal(0, core.LiveRequests);
        Assert.Equal(0, core.TrackedSequences);
        Assert.Equal(0, core.SamplingRows);
        return Read(events);
    }
}

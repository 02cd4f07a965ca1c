using System.Diagnostics;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Workers;

/// <summary>Two worker daemons as child processes behind a pool; one dies in the middle of a stream.</summary>
public sealed class WorkerKillTests
{
    [Fact]
    public async Task GenerateAsync_ServingDaemonKilledMidStream_ThrowsPromptlyAndNextRequestGoesToTheOther()
    {
        await using WorkerProcess first = await WorkerProcess.StartAsync(TestWorkers.Timeout);
        await using WorkerProcess second = await WorkerProcess.StartAsync(TestWorkers.Timeout);
        GrpcWorker workerA = await TestWorkers.ConnectAsync(first.Address);
        GrpcWorker workerB = await TestWorkers.ConnectAsync(second.Address);
        await using var pool = new WorkerPool([workerA, workerB]);
        using var timeout = new CancellationTokenSource(TestWorkers.Timeout);
        int[] prompt = await workerA.TokenizeAsync("The jury said", true, timeout.Token);
        int longest = workerA.Info!.MaxModelLength - prompt.Length - 1;
        var request = new GenerationRequest
        {
            RequestId = "long",
            PromptTokens = prompt,
            Sampling = SamplingParams.Greedy with { MaxTokens = longest, IgnoreEos = true },
        };

        await using IAsyncEnumerator<ServedEvent> stream = pool.GenerateAsync(workerA.Info.Model, request, timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await stream.MoveNextAsync());
        (GrpcWorker serving, WorkerProcess victim, GrpcWorker survivor) = pool.InFlight(workerA) == 1
            ? (workerA, first, workerB)
            : (workerB, second, workerA);
        var clock = Stopwatch.StartNew();
        victim.Kill();
        WorkerException ex = await Assert.ThrowsAsync<WorkerException>(async () =>
        {
            while (await stream.MoveNextAsync())
            {
                Assert.True(stream.Current.Usage is null, "the stream finished before the daemon was killed");
            }
        });
        clock.Stop();

        List<ServedEvent> next = await TestWorkers.CollectAsync(
            pool.GenerateAsync(workerA.Info.Model, request with { RequestId = "next", Sampling = SamplingParams.Greedy with { MaxTokens = 8 } }, timeout.Token));

        Assert.Equal(RefusalKind.Unavailable, ex.Kind);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the loss surfaced after {clock.Elapsed}");
        Assert.Equal(8, next[^1].Usage!.CompletionTokens);
        Assert.Equal(0, pool.InFlight(serving));
        await TestWorkers.UntilAsync(() => serving.State == WorkerState.Down, "the killed worker is down");
        Assert.Equal(WorkerState.Ready, survivor.State);
    }
}

using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Workers;

/// <summary>Routing over real in-process workers, seen through scripts that set their load and refusals.</summary>
public sealed class WorkerPoolTests : IAsyncLifetime
{
    private const string Model = "brown-llama-5m";
    private LocalWorker _local = null!;
    private ScriptedWorker _a = null!;
    private ScriptedWorker _b = null!;

    public Task InitializeAsync()
    {
        _local = new LocalWorker(TestWorkers.StartHost());
        _a = new ScriptedWorker("a", _local);
        _b = new ScriptedWorker("b", _local);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _local.DisposeAsync();

    private static EngineStats Busy(int running, int waiting, int kvUsed = 0) =>
        new() { Running = running, WaitingStandard = waiting, LiveRequests = running + waiting, KvBlocksUsed = kvUsed, KvBlocksTotal = 100 };

    private static GenerationRequest Request(string id, int[] prompt, string tenant = "default") =>
        new() { RequestId = id, PromptTokens = prompt, Sampling = SamplingParams.Greedy with { MaxTokens = 4 }, Tenant = tenant };

    private static int[] Prompt(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => 10 + ((i * 31) + seed) % 2000)];

    [Fact]
    public async Task GenerateAsync_OneWorkerBusier_RoutesToTheLessLoaded()
    {
        _a.ScriptedLoad = Busy(running: 8, waiting: 4, kvUsed: 60);
        _b.ScriptedLoad = Busy(running: 1, waiting: 0, kvUsed: 10);
        var pool = new WorkerPool([_a, _b]);

        List<ServedEvent> events = await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("r1", Prompt(8, 1)), CancellationToken.None));

        Assert.Equal(["r1"], _b.Served);
        Assert.Empty(_a.Served);
        Assert.NotNull(events[^1].Usage);
    }

    [Fact]
    public async Task GenerateAsync_BestRefusesOverloaded_RetriesOnTheOther()
    {
        _a.ScriptedLoad = Busy(0, 0);
        _b.ScriptedLoad = Busy(4, 2);
        _a.RefuseNext(new WorkerException(RefusalKind.Overloaded, "queue full"));
        var pool = new WorkerPool([_a, _b]);

        List<ServedEvent> events = await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("r1", Prompt(8, 2)), CancellationToken.None));

        Assert.Equal(["r1"], _b.Served);
        Assert.NotNull(events[^1].Usage);
    }

    [Fact]
    public async Task GenerateAsync_AllRefuse_ThrowsTheLastRefusalFromFirstMoveNext()
    {
        _a.RefuseNext(new WorkerException(RefusalKind.Overloaded, "queue full"));
        _b.RefuseNext(new WorkerException(RefusalKind.Overloaded, "queue full too"));
        var pool = new WorkerPool([_a, _b]);

        await using IAsyncEnumerator<ServedEvent> events = pool.GenerateAsync(Model, Request("r1", Prompt(8, 3)), CancellationToken.None).GetAsyncEnumerator();
        WorkerException ex = await Assert.ThrowsAsync<WorkerException>(async () => await events.MoveNextAsync().AsTask().WaitAsync(TestWorkers.Timeout));

        Assert.Equal(RefusalKind.Overloaded, ex.Kind);
        Assert.Empty(_a.Served);
        Assert.Empty(_b.Served);
    }

    [Fact]
    public async Task GenerateAsync_InvalidRefusal_IsNotRetried()
    {
        _a.ScriptedLoad = Busy(0, 0);
        _b.ScriptedLoad = Busy(4, 2);
        _a.RefuseNext(new WorkerException(RefusalKind.Invalid, "bad", "max_tokens"));
        var pool = new WorkerPool([_a, _b]);

        WorkerException ex = await Assert.ThrowsAsync<WorkerException>(() => TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("r1", Prompt(8, 4)), CancellationToken.None)));

        Assert.Equal(RefusalKind.Invalid, ex.Kind);
        Assert.Empty(_b.Served);
    }

    [Fact]
    public async Task GenerateAsync_UnknownModelOrNoReadyWorker_Unavailable()
    {
        _a.State = WorkerState.Down;
        _b.State = WorkerState.Draining;
        var pool = new WorkerPool([_a, _b]);

        WorkerException down = await Assert.ThrowsAsync<WorkerException>(() => TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("r1", Prompt(8, 5)), CancellationToken.None)));
        _a.State = WorkerState.Ready;
        WorkerException unknown = await Assert.ThrowsAsync<WorkerException>(() => TestWorkers.CollectAsync(pool.GenerateAsync("gpt-9", Request("r2", Prompt(8, 5)), CancellationToken.None)));

        Assert.Equal(RefusalKind.Unavailable, down.Kind);
        Assert.Contains(Model, down.Message, StringComparison.Ordinal);
        Assert.Equal(RefusalKind.Unavailable, unknown.Kind);
        Assert.Contains("gpt-9", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenerateAsync_RepeatedPrefix_StaysOnTheWorkerThatServedIt()
    {
        // a is slightly busier, so only affinity can bring the second request back to it.
        _a.ScriptedLoad = Busy(running: 2, waiting: 0);
        _b.ScriptedLoad = Busy(running: 3, waiting: 0);
        var pool = new WorkerPool([_a, _b]);
        int[] shared = Prompt(64, 6);
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("first", [.. shared, 1, 2, 3]), CancellationToken.None));
        Assert.Equal(["first"], _a.Served);
        _a.ScriptedLoad = Busy(running: 3, waiting: 0);
        _b.ScriptedLoad = Busy(running: 2, waiting: 0);

        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("same-prefix", [.. shared, 7, 8]), CancellationToken.None));
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("other-prefix", Prompt(64, 99)), CancellationToken.None));
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("other-tenant", [.. shared, 7, 8], tenant: "acme"), CancellationToken.None));

        Assert.Equal(["first", "same-prefix"], _a.Served);
        Assert.Equal(["other-prefix", "other-tenant"], _b.Served);
    }

    [Fact]
    public async Task GenerateAsync_PrefixHolderMuchBusier_GoesToTheBest()
    {
        _a.ScriptedLoad = Busy(running: 0, waiting: 0);
        _b.ScriptedLoad = Busy(running: 1, waiting: 0);
        var pool = new WorkerPool([_a, _b]);
        int[] shared = Prompt(64, 7);
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("first", shared), CancellationToken.None));
        _a.ScriptedLoad = Busy(running: 10, waiting: 10, kvUsed: 90);
        _b.ScriptedLoad = Busy(running: 1, waiting: 0, kvUsed: 5);

        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("second", shared), CancellationToken.None));

        Assert.Equal(["first"], _a.Served);
        Assert.Equal(["second"], _b.Served);
    }

    [Fact]
    public void ModelsAndIsReady_FollowWorkerStates()
    {
        var pool = new WorkerPool([_a, _b]);
        IWorker? picked = pool.PickForTokenize(Model);

        Assert.True(pool.IsReady);
        Assert.Equal([Model], pool.Models.Select(m => m.Model));
        Assert.NotNull(picked);
        Assert.Null(pool.PickForTokenize("gpt-9"));

        _a.State = WorkerState.Down;
        _b.State = WorkerState.Draining;
        Assert.False(pool.IsReady);
        Assert.Empty(pool.Models);
        Assert.Null(pool.PickForTokenize(Model));
    }
}

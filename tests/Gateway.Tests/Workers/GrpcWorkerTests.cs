using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Tests.Workers;

/// <summary>GrpcWorker against a real worker server on loopback, compared with the in-process LocalWorker.</summary>
public sealed class GrpcWorkerTests
{
    private static GenerationRequest Request(string id, int[] prompt, SamplingParams sampling) =>
        new() { RequestId = id, PromptTokens = prompt, Sampling = sampling };

    [Fact]
    public async Task GenerateAsync_SameSeedAsLocalWorker_SameEvents()
    {
        await using WorkerServer server = await TestWorkers.StartServerAsync();
        await using GrpcWorker remote = await TestWorkers.ConnectAsync(server.Address);
        await using var local = new LocalWorker(TestWorkers.StartHost());
        using var timeout = new CancellationTokenSource(TestWorkers.Timeout);
        int[] prompt = await local.ApplyChatTemplateAsync([new ChatMessage("user", "Tell me about the jury.")], true, null, timeout.Token);
        var sampling = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, Seed = 1234, MaxTokens = 32, Logprobs = 3 };
        GenerationRequest request = Request("same", prompt, sampling) with { N = 2, StopStrings = ["\n\n"] };

        List<ServedEvent> expected = await TestWorkers.CollectAsync(local.GenerateAsync(request, timeout.Token));
        List<ServedEvent> actual = await TestWorkers.CollectAsync(remote.GenerateAsync(request, timeout.Token));

        Assert.Equal(prompt, await remote.ApplyChatTemplateAsync([new ChatMessage("user", "Tell me about the jury.")], true, null, timeout.Token));
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            ServedEvent e = expected[i];
            ServedEvent a = actual[i];
            Assert.Equal((e.Choice, e.TokenId, e.Text, e.Finish, e.StopString, e.Error), (a.Choice, a.TokenId, a.Text, a.Finish, a.StopString, a.Error));
            Assert.Equal(e.Sampled?.Logprob, a.Sampled?.Logprob);
            Assert.Equal(e.Sampled?.Text, a.Sampled?.Text);
            Assert.Equal(e.TopLogprobs?.Select(t => (t.TokenId, t.Logprob)), a.TopLogprobs?.Select(t => (t.TokenId, t.Logprob)));
            Assert.Equal(e.Usage is null, a.Usage is null);
        }

        Assert.Equal(expected[^1].Usage!.CompletionTokens, actual[^1].Usage!.CompletionTokens);
        Assert.Equal(local.Info! with { Created = 0 }, remote.Info! with { Created = 0 }); // two hosts, loaded in different seconds
        Assert.Equal(WorkerState.Ready, remote.State);
        Assert.NotNull(remote.Load);
    }

    [Fact]
    public async Task GenerateAsync_TooLong_ThrowsInvalidFromFirstMoveNext()
    {
        await using WorkerServer server = await TestWorkers.StartServerAsync();
        await using GrpcWorker remote = await TestWorkers.ConnectAsync(server.Address);
        using var timeout = new CancellationTokenSource(TestWorkers.Timeout);
        int[] prompt = await remote.TokenizeAsync("The jury", true, timeout.Token);

        await using IAsyncEnumerator<ServedEvent> events = remote
            .GenerateAsync(Request("too-long", prompt, new SamplingParams { MaxTokens = 100_000 }), timeout.Token)
            .GetAsyncEnumerator(timeout.Token);
        WorkerException ex = await Assert.ThrowsAsync<WorkerException>(async () => await events.MoveNextAsync());

        Assert.Equal(RefusalKind.Invalid, ex.Kind);
        Assert.Equal("max_tokens", ex.Param);
        Assert.False(ex.Retryable);
    }

    [Fact]
    public async Task GenerateAsync_WorkerDraining_ThrowsUnavailableAndStateDraining()
    {
        await using WorkerServer server = await TestWorkers.StartServerAsync();
        await using GrpcWorker remote = await TestWorkers.ConnectAsync(server.Address);
        using var timeout = new CancellationTokenSource(TestWorkers.Timeout);
        int[] prompt = await remote.TokenizeAsync("The jury", true, timeout.Token);

        Assert.True(await server.DrainAsync(timeout.Token));
        await using IAsyncEnumerator<ServedEvent> events = remote
            .GenerateAsync(Request("drained", prompt, SamplingParams.Greedy), timeout.Token)
            .GetAsyncEnumerator(timeout.Token);
        WorkerException ex = await Assert.ThrowsAsync<WorkerException>(async () => await events.MoveNextAsync());

        Assert.Equal(RefusalKind.Unavailable, ex.Kind);
        Assert.True(ex.Retryable);
        await TestWorkers.UntilAsync(() => remote.State == WorkerState.Draining, "the load report says draining");
    }

    [Fact]
    public async Task DetokenizeAsync_RoundTrip_GivesTheText()
    {
        await using WorkerServer server = await TestWorkers.StartServerAsync();
        await using GrpcWorker remote = await TestWorkers.ConnectAsync(server.Address);
        using var timeout = new CancellationTokenSource(TestWorkers.Timeout);

        int[] ids = await remote.TokenizeAsync("The jury said", true, timeout.Token);
        string text = await remote.DetokenizeAsync(ids, timeout.Token);

        Assert.Equal("The jury said", text);
    }

    [Fact]
    public async Task State_NothingListens_StaysStartingUntilTheWorkerAppears()
    {
        await using var remote = new GrpcWorker(new Uri("http://127.0.0.1:1"));

        Assert.Equal(WorkerState.Starting, remote.State);
        Assert.Null(remote.Info);
    }
}

using Inference.Gateway.Routing;
using Inference.Gateway.Tests.Workers;
using Inference.Gateway.Workers;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;

namespace Inference.Gateway.Tests.Routing;

/// <summary>Real in-process workers (one model load per test class) seen as several scripted workers.</summary>
public sealed class RoutingWorkersFixture : IAsyncLifetime
{
    public LocalWorker Local { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Local = new LocalWorker(TestWorkers.StartHost());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Local.DisposeAsync();
}

/// <summary>
/// What every routing policy must do, whatever it prefers: keep each candidate exactly once (a request is never lost
/// or sent twice by routing), put the least loaded first when it knows nothing else, respect the pool's tie-break
/// rotation among equals, forget a worker that left, and stay consistent under concurrent use. A policy's own test
/// class derives from this one.
/// </summary>
public abstract class RoutingPolicyContract : IClassFixture<RoutingWorkersFixture>
{
    private readonly RoutingWorkersFixture _workers;

    protected RoutingPolicyContract(RoutingWorkersFixture workers) => _workers = workers;

    protected abstract IRoutingPolicy CreatePolicy();

    protected IWorker Worker(string id) => new ScriptedWorker(id, _workers.Local);

    protected static GenerationRequest Request(int[] prompt, string tenant = "default") =>
        new() { RequestId = Guid.NewGuid().ToString("N"), PromptTokens = prompt, Sampling = SamplingParams.Greedy, Tenant = tenant };

    protected static int[] Prompt(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => 10 + (((i * 31) + seed) % 2000))];

    protected static RouteCandidate Candidate(IWorker worker, double load, int tieBreak = 0) => new(worker, (int)(load * 10), 0, load, tieBreak);

    [Fact]
    public void Rank_KeepsEveryCandidateExactlyOnce()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker[] workers = [.. Enumerable.Range(0, 6).Select(i => Worker($"w{i}"))];
        var random = new Random(7);
        for (int round = 0; round < 50; round++)
        {
            List<RouteCandidate> candidates = [.. workers.Select((w, i) => Candidate(w, random.Next(0, 4) / 2.0, i))];
            GenerationRequest request = Request(Prompt(64, round % 5));
            policy.Rank(candidates, request);
            Assert.Equal(workers.Length, candidates.Count);
            Assert.Equal(workers.Length, candidates.Select(c => c.Worker).Distinct().Count());
            policy.Routed(request, candidates[0].Worker);
        }
    }

    [Fact]
    public void Rank_NothingKnown_LeastLoadedFirst()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker busy = Worker("busy"), idle = Worker("idle"), middle = Worker("middle");
        List<RouteCandidate> candidates = [Candidate(busy, 1.5, 0), Candidate(idle, 0.1, 1), Candidate(middle, 0.9, 2)];

        policy.Rank(candidates, Request(Prompt(64, 1)));

        Assert.Equal(["idle", "middle", "busy"], candidates.Select(c => c.Worker.Id));
    }

    [Fact]
    public void Rank_EqualLoads_FollowTheTieBreak()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker a = Worker("a"), b = Worker("b"), c = Worker("c");
        List<RouteCandidate> candidates = [Candidate(a, 0.5, 2), Candidate(b, 0.5, 0), Candidate(c, 0.5, 1)];

        policy.Rank(candidates, Request(Prompt(8, 2)));

        Assert.Equal(["b", "c", "a"], candidates.Select(x => x.Worker.Id));
    }

    [Fact]
    public void Rank_EmptyOrSingle_IsUnchanged()
    {
        IRoutingPolicy policy = CreatePolicy();
        List<RouteCandidate> none = [];
        policy.Rank(none, Request(Prompt(64, 3)));
        Assert.Empty(none);

        IWorker only = Worker("only");
        List<RouteCandidate> one = [Candidate(only, 2)];
        policy.Rank(one, Request(Prompt(64, 3)));
        Assert.Same(only, Assert.Single(one).Worker);
    }

    [Fact]
    public void Forget_AWorkerThatLeft_RanksByLoadAgain()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker left = Worker("left"), stays = Worker("stays");
        GenerationRequest request = Request(Prompt(128, 4));
        policy.Routed(request, left);
        policy.Forget(left);
        List<RouteCandidate> candidates = [Candidate(left, 0.4, 0), Candidate(stays, 0.0, 1)];

        policy.Rank(candidates, request);

        Assert.Equal("stays", candidates[0].Worker.Id);
    }

    [Fact]
    public async Task RankAndRouted_Concurrently_StayConsistent()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker[] workers = [.. Enumerable.Range(0, 4).Select(i => Worker($"c{i}"))];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                List<RouteCandidate> candidates = [.. workers.Select((w, k) => Candidate(w, ((k + i) % 3) / 2.0, k))];
                GenerationRequest request = Request(Prompt(64, (t * 7) + (i % 11)), tenant: $"t{i % 3}");
                policy.Rank(candidates, request);
                Assert.Equal(workers.Length, candidates.Select(c => c.Worker).Distinct().Count());
                policy.Routed(request, candidates[0].Worker);
                if (i % 97 == 0)
                {
                    policy.Forget(workers[i % workers.Length]);
                }
            }
        })));
    }
}

public sealed class LeastLoadedPolicyTests(RoutingWorkersFixture workers) : RoutingPolicyContract(workers)
{
    protected override IRoutingPolicy CreatePolicy() => new LeastLoadedPolicy();

    [Fact]
    public void Rank_RepeatedPrefix_StillLeastLoadedFirst()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker served = Worker("served"), idle = Worker("idle");
        GenerationRequest request = Request(Prompt(128, 5));
        policy.Routed(request, served);
        List<RouteCandidate> candidates = [Candidate(served, 0.2, 0), Candidate(idle, 0.0, 1)];

        policy.Rank(candidates, request);

        Assert.Equal("idle", candidates[0].Worker.Id);
    }
}

public sealed class PrefixAffinityPolicyTests(RoutingWorkersFixture workers) : RoutingPolicyContract(workers)
{
    private static readonly byte[] Secret = "a-shared-prefix-cache-secret-32b"u8.ToArray();

    protected override IRoutingPolicy CreatePolicy() => new PrefixAffinityPolicy(secret: Secret);

    [Fact]
    public void Rank_RepeatedPrefix_HolderFirstWithinTolerance()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker holder = Worker("holder"), idle = Worker("idle");
        int[] prompt = Prompt(128, 6);
        policy.Routed(Request(prompt), holder);
        List<RouteCandidate> candidates = [Candidate(idle, 0.0, 0), Candidate(holder, 0.4, 1)];

        policy.Rank(candidates, Request([.. prompt, 1, 2, 3]));

        Assert.Equal("holder", candidates[0].Worker.Id);
    }

    [Fact]
    public void Rank_HolderMuchBusier_BestFirst()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker holder = Worker("holder"), idle = Worker("idle");
        int[] prompt = Prompt(128, 7);
        policy.Routed(Request(prompt), holder);
        List<RouteCandidate> candidates = [Candidate(idle, 0.0, 0), Candidate(holder, 0.9, 1)];

        policy.Rank(candidates, Request(prompt));

        Assert.Equal("idle", candidates[0].Worker.Id);
    }

    [Fact]
    public void Rank_SamePromptOtherTenant_NoAffinity()
    {
        IRoutingPolicy policy = CreatePolicy();
        IWorker holder = Worker("holder"), idle = Worker("idle");
        int[] prompt = Prompt(128, 8);
        policy.Routed(Request(prompt, tenant: "acme"), holder);
        List<RouteCandidate> candidates = [Candidate(idle, 0.0, 0), Candidate(holder, 0.3, 1)];

        policy.Rank(candidates, Request(prompt, tenant: "globex"));

        Assert.Equal("idle", candidates[0].Worker.Id);
    }

    [Fact]
    public void PrefixHashes_AreTheHashesTheWorkersBlockManagerRegisters()
    {
        // One scheme: a gateway given the workers' secret hashes a prompt's blocks exactly as the worker's block manager
        // registers them in its prefix cache.
        const int blockSize = 16;
        var policy = new PrefixAffinityPolicy(new PrefixAffinityOptions { Blocks = 4 }, Secret);
        int[] prompt = Prompt(80, 9); // 5 full blocks; the policy hashes the first 4
        var manager = new Inference.Scheduler.KvCache.BlockManager(64, blockSize, enablePrefixCaching: true);
        var table = new Inference.Scheduler.KvCache.BlockTable();
        ulong salt = Inference.Scheduler.KvCache.PrefixSalt.For(Secret, "acme");
        Assert.True(manager.TryAllocate(table, prompt, prompt.Length, salt, 0, out _));
        manager.CommitFullBlocks(table, prompt, prompt.Length, salt);

        ulong[] hashes = policy.PrefixHashes(Request(prompt, tenant: "acme"), blockSize);

        Assert.Equal(4, hashes.Length);
        for (int i = 0; i < hashes.Length; i++)
        {
            Assert.True(manager.TryGetBlockHash(table.Blocks[i], out ulong registered));
            Assert.Equal(registered, hashes[i]);
        }

        // Another secret gives other hashes (the salt keys them).
        ulong[] other = new PrefixAffinityPolicy(new PrefixAffinityOptions { Blocks = 4 }, "another-secret-of-32-bytes-len!!"u8.ToArray())
            .PrefixHashes(Request(prompt, tenant: "acme"), blockSize);
        Assert.NotEqual(hashes, other);
    }
}

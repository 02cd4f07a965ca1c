using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Inference.Gateway.Discovery;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Tests.Workers;
using Inference.Gateway.Workers;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Discovery;

/// <summary>
/// Worker discovery by DNS against a fake answer that changes (what a Kubernetes headless service does as worker pods
/// come and go): the pool adds a worker per new address, drains one whose address left, keeps everything on a failed
/// lookup, and routes as before. Workers are real in-process workers seen through scripts, one per address.
/// </summary>
public sealed class DnsWorkerDiscoveryTests : IAsyncLifetime
{
    private const string Model = "brown-llama-5m";
    private LocalWorker _local = null!;
    private readonly FakeDns _dns = new();
    private readonly Dictionary<string, ScriptedWorker> _created = [];

    public Task InitializeAsync()
    {
        _local = new LocalWorker(TestWorkers.StartHost());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _local.DisposeAsync();

    private IWorker Create(Uri address)
    {
        var worker = new ScriptedWorker(address.GetLeftPart(UriPartial.Authority), _local);
        lock (_created)
        {
            _created[worker.Id] = worker;
        }

        return worker;
    }

    private static GenerationRequest Request(string id, int maxTokens = 4) =>
        new() { RequestId = id, PromptTokens = [.. Enumerable.Range(0, 24).Select(i => 20 + i)], Sampling = SamplingParams.Greedy with { MaxTokens = maxTokens, IgnoreEos = true } };

    private static string[] Ids(WorkerPool pool) => [.. pool.Workers.Select(w => w.Id).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Refresh_AnswerChanges_PoolAddsAndDrainsWorkers()
    {
        await using var pool = new WorkerPool([]);
        await using var discovery = new DnsWorkerDiscovery(pool, ["workers.inference.svc:9000"], TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), Create, _dns.ResolveAsync);

        _dns.Answer("workers.inference.svc", "10.0.0.1");
        await discovery.RefreshAsync(CancellationToken.None);
        Assert.Equal(["http://10.0.0.1:9000"], Ids(pool));

        _dns.Answer("workers.inference.svc", "10.0.0.1", "10.0.0.2");
        await discovery.RefreshAsync(CancellationToken.None);
        Assert.Equal(["http://10.0.0.1:9000", "http://10.0.0.2:9000"], Ids(pool));
        List<ServedEvent> events = await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("both"), CancellationToken.None));
        Assert.NotNull(events[^1].Usage);

        // The first pod goes away: drained (no requests in flight, so removed at once) and routing uses the second.
        _dns.Answer("workers.inference.svc", "10.0.0.2");
        await discovery.RefreshAsync(CancellationToken.None);
        await TestWorkers.UntilAsync(() => pool.Workers.Count == 1, "the departed worker removed");
        Assert.Equal(["http://10.0.0.2:9000"], Ids(pool));
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("after"), CancellationToken.None));
        Assert.Contains("after", _created["http://10.0.0.2:9000"].Served);
        Assert.DoesNotContain("after", _created["http://10.0.0.1:9000"].Served);
        Assert.Equal(["http://10.0.0.2:9000/"], discovery.Known);
    }

    [Fact]
    public async Task Refresh_AddressLeavesWithARequestInFlight_RequestFinishesThenWorkerRemoved()
    {
        await using var pool = new WorkerPool([]);
        await using var discovery = new DnsWorkerDiscovery(pool, ["workers:9000"], TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), Create, _dns.ResolveAsync);
        _dns.Answer("workers", "10.0.0.7");
        await discovery.RefreshAsync(CancellationToken.None);
        IWorker first = Assert.Single(pool.Workers);

        await using IAsyncEnumerator<ServedEvent> running = pool.GenerateAsync(Model, Request("long", maxTokens: 48), CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync());
        _dns.Answer("workers", "10.0.0.8");
        await discovery.RefreshAsync(CancellationToken.None);

        // Draining: still in the pool while its request runs, but new requests go to the new worker.
        Assert.True(pool.IsDraining(first));
        Assert.Equal(2, pool.Workers.Count);
        await TestWorkers.CollectAsync(pool.GenerateAsync(Model, Request("new"), CancellationToken.None));
        Assert.Contains("new", _created["http://10.0.0.8:9000"].Served);
        Assert.Equal(1, pool.InFlight(first));

        ServedEvent last = running.Current;
        while (await running.MoveNextAsync())
        {
            last = running.Current;
        }

        Assert.Equal(48, last.Usage!.CompletionTokens);
        await TestWorkers.UntilAsync(() => pool.Workers.Count == 1, "the drained worker removed once its request finished");
        Assert.Equal(["http://10.0.0.8:9000"], Ids(pool));
    }

    [Fact]
    public async Task Refresh_LookupFails_KeepsTheWorkersKnown()
    {
        await using var pool = new WorkerPool([]);
        await using var discovery = new DnsWorkerDiscovery(pool, ["workers:9000", "more-workers:9001"], TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), Create, _dns.ResolveAsync);
        _dns.Answer("workers", "10.0.0.1", "10.0.0.2");
        _dns.Answer("more-workers", "10.0.1.1");
        await discovery.RefreshAsync(CancellationToken.None);
        Assert.Equal(3, pool.Workers.Count);

        _dns.Fail("workers");
        _dns.Answer("more-workers");
        await discovery.RefreshAsync(CancellationToken.None);

        // The failed name keeps its two; the name that answered with nothing loses its one.
        await TestWorkers.UntilAsync(() => pool.Workers.Count == 2, "only the answered name's worker removed");
        Assert.Equal(["http://10.0.0.1:9000", "http://10.0.0.2:9000"], Ids(pool));
    }

    [Fact]
    public async Task Gateway_WithWorkerDns_ServesThroughDiscoveredWorkersAndFollowsChanges()
    {
        _dns.Answer("workers.test", "10.1.0.1");
        var options = new GatewayOptions { WorkerDns = ["workers.test:9000"], WorkerDnsRefresh = TimeSpan.FromMilliseconds(100) };
        await using TestGateway gateway = await TestGateway.StartAsync([], keysJson: null, options,
            new GatewayDependencies { WorkerFactory = Create, WorkerResolver = _dns.ResolveAsync });
        await TestWorkers.UntilAsync(() => gateway.Host.Service.IsReady, "the discovered worker ready");

        using HttpResponseMessage first = await gateway.Http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = "hello", max_tokens = 4 });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        _dns.Answer("workers.test", "10.1.0.2");
        await TestWorkers.UntilAsync(() => gateway.Host.Service.Pool.Workers.Select(w => w.Id).SequenceEqual(["http://10.1.0.2:9000"]), "the gateway follows the new answer by itself");
        using HttpResponseMessage second = await gateway.Http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = "hello again", max_tokens = 4 });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Single(_created["http://10.1.0.2:9000"].Served);

        using HttpResponseMessage ready = await gateway.Http.GetAsync("/ready");
        using JsonDocument body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", body.RootElement.GetProperty("checks").GetProperty("workers").GetProperty("status").GetString());
        Assert.Equal("ready", body.RootElement.GetProperty("checks").GetProperty("workers").GetProperty("data").GetProperty("http://10.1.0.2:9000").GetString());
    }

    [Theory]
    [InlineData("workers.svc:9000", true)]
    [InlineData("10.0.0.1:80", true)]
    [InlineData("[::1]:9000", true)]
    [InlineData("workers.svc", false)]
    [InlineData("workers.svc:0", false)]
    [InlineData("workers.svc:70000", false)]
    [InlineData(":9000", false)]
    [InlineData("bad name:9000", false)]
    public void TryParse_HostAndPort(string value, bool valid) => Assert.Equal(valid, DnsWorkerDiscovery.TryParse(value, out _, out _));

    /// <summary>A DNS answer per name that tests change; an unknown or failed name throws as the system resolver does.</summary>
    private sealed class FakeDns
    {
        private readonly Dictionary<string, IPAddress[]?> _answers = [];

        public void Answer(string name, params string[] addresses)
        {
            lock (_answers)
            {
                _answers[name] = [.. addresses.Select(IPAddress.Parse)];
            }
        }

        public void Fail(string name)
        {
            lock (_answers)
            {
                _answers[name] = null;
            }
        }

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            lock (_answers)
            {
                return _answers.TryGetValue(host, out IPAddress[]? answer) && answer is not null
                    ? Task.FromResult(answer)
                    : Task.FromException<IPAddress[]>(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound));
            }
        }
    }
}

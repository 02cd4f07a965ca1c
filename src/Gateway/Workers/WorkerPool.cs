using System.Runtime.CompilerServices;
using Inference.Gateway.Routing;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Gateway.Workers;

/// <summary>
/// The gateway's workers and its routing. A request goes to a Ready, non-draining worker serving its model, in the
/// order the routing policy gives (<see cref="IRoutingPolicy"/>: least-loaded, prefix affinity). A retryable refusal
/// before the first event moves on to the next candidate (each tried once); after the first event errors propagate.
/// Membership changes at run time (worker discovery): <see cref="Add"/> routes to a new worker at once,
/// <see cref="DrainAsync"/> stops routing to one, lets its requests finish, then removes and disposes it. Thread-safe.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    private readonly WorkerPoolOptions _options;
    private readonly IRoutingPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _membership = new();
    private volatile Member[] _members;
    private int _rotation;

    public WorkerPool(IEnumerable<IWorker> workers, WorkerPoolOptions? options = null, TimeProvider? time = null, ILogger<WorkerPool>? logger = null, IRoutingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(workers);
        _options = options ?? new WorkerPoolOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<WorkerPool>.Instance;
        _policy = policy ?? new PrefixAffinityPolicy(time: _time);
        _members = [.. workers.Select(w => new Member(w))];
    }

    /// <summary>The routing policy in use.</summary>
    public IRoutingPolicy Policy => _policy;

    /// <summary>Every worker, whatever its state, draining ones included (for health and metrics).</summary>
    public IReadOnlyList<IWorker> Workers => Array.ConvertAll(_members, m => m.Worker);

    /// <summary>Adds a worker: routed to as soon as it reports Ready. Its id must be new to the pool.</summary>
    public void Add(IWorker worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        lock (_membership)
        {
            if (Array.Exists(_members, m => m.Worker.Id == worker.Id))
            {
                throw new ArgumentException($"worker {worker.Id} is already in the pool", nameof(worker));
            }

            _members = [.. _members, new Member(worker)];
        }

        WorkersLog.Added(_logger, worker.Id);
    }

    /// <summary>
    /// Stops routing new requests to the worker with <paramref name="id"/>, waits up to <paramref name="timeout"/> for
    /// the requests it runs for this pool to finish, then removes and disposes it (ending any still running). False
    /// when no such worker is in the pool.
    /// </summary>
    public async Task<bool> DrainAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Member? member = Array.Find(_members, m => m.Worker.Id == id);
        if (member is null || member.Draining)
        {
            return false;
        }

        member.Draining = true;
        WorkersLog.Draining(_logger, id, Volatile.Read(ref member.InFlight));
        long started = _time.GetTimestamp();
        while (Volatile.Read(ref member.InFlight) > 0 && _time.GetElapsedTime(started) < timeout && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None).ConfigureAwait(false);
        }

        lock (_membership)
        {
            _members = Array.FindAll(_members, m => !ReferenceEquals(m, member));
        }

        _policy.Forget(member.Worker);
        WorkersLog.Removed(_logger, id, Volatile.Read(ref member.InFlight));
        await member.Worker.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>True while the worker is in the pool but no longer routed to (<see cref="DrainAsync"/>).</summary>
    public bool IsDraining(IWorker worker) => Array.Find(_members, m => ReferenceEquals(m.Worker, worker))?.Draining ?? false;

    /// <summary>The distinct models of the workers currently Ready (one <see cref="WorkerInfo"/> per model).</summary>
    public IReadOnlyList<WorkerInfo> Models
    {
        get
        {
            var models = new List<WorkerInfo>();
            foreach (Member member in _members)
            {
                IWorker worker = member.Worker;
                if (!member.Draining && worker.State == WorkerState.Ready && worker.Info is { } info && !models.Exists(m => m.Model == info.Model))
                {
                    models.Add(info);
                }
            }

            return models;
        }
    }

    /// <summary>True when at least one worker is Ready with a fresh load report.</summary>
    public bool IsReady
    {
        get
        {
            DateTimeOffset now = _time.GetUtcNow();
            foreach (Member member in _members)
            {
                IWorker worker = member.Worker;
                if (!member.Draining && worker.State == WorkerState.Ready && worker.Load is not null && now - worker.LoadAt <= _options.FreshLoadWithin)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Requests this pool has running on <paramref name="worker"/>.</summary>
    public int InFlight(IWorker worker) => Volatile.Read(ref MemberOf(worker).InFlight);

    /// <summary>The least-loaded Ready worker serving <paramref name="model"/>, or null.</summary>
    public IWorker? PickForTokenize(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        List<RouteCandidate> candidates = Candidates(model, out _);
        _policy.Rank(candidates, EmptyRequest);
        return candidates.Count == 0 ? null : candidates[0].Worker;
    }

    /// <summary>
    /// Routes and runs a request. Throws <see cref="WorkerException"/>(Unavailable) when no Ready worker serves
    /// the model, and the last refusal when every candidate refused; both from the first MoveNextAsync.
    /// </summary>
    public async IAsyncEnumerable<ServedEvent> GenerateAsync(
        string model, GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        (IAsyncEnumerator<ServedEvent> events, Member member) = await StartAsync(model, request, cancellationToken).ConfigureAwait(false);
        try
        {
            if (events.Current is { } first)
            {
                yield return first;
                while (await events.MoveNextAsync().ConfigureAwait(false))
                {
                    yield return events.Current;
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref member.InFlight);
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The Ready, non-draining workers serving <paramref name="model"/>, best first by the routing policy.</summary>
    internal List<RouteCandidate> Rank(string model, GenerationRequest request)
    {
        List<RouteCandidate> candidates = Candidates(model, out _);
        _policy.Rank(candidates, request);
        return candidates;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Member member in _members)
        {
            await member.Worker.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<(IAsyncEnumerator<ServedEvent> Events, Member Member)> StartAsync(
        string model, GenerationRequest request, CancellationToken cancellationToken)
    {
        List<RouteCandidate> candidates = Candidates(model, out Member[] members);
        _policy.Rank(candidates, request);
        if (candidates.Count == 0)
        {
            throw new WorkerException(RefusalKind.Unavailable, $"no ready worker serves model '{model}'", "model");
        }

        for (int i = 0; ; i++)
        {
            RouteCandidate candidate = candidates[i];
            Member member = Array.Find(members, m => ReferenceEquals(m.Worker, candidate.Worker))!;
            Interlocked.Increment(ref member.InFlight);
            IAsyncEnumerator<ServedEvent> events = candidate.Worker.GenerateAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                // The first MoveNextAsync carries the refusal, if any; an empty stream is not one.
                if (!await events.MoveNextAsync().ConfigureAwait(false))
                {
                    await events.DisposeAsync().ConfigureAwait(false);
                    events = EmptyEvents.Instance;
                }

                _policy.Routed(request, candidate.Worker);
                return (events, member);
            }
            catch (WorkerException ex) when (ex.Retryable && i + 1 < candidates.Count && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Decrement(ref member.InFlight);
                await events.DisposeAsync().ConfigureAwait(false);
                WorkersLog.RetryingElsewhere(_logger, request.RequestId, candidate.Worker.Id, ex.Kind, ex.Message);
            }
            catch
            {
                Interlocked.Decrement(ref member.InFlight);
                await events.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private List<RouteCandidate> Candidates(string model, out Member[] members)
    {
        members = _members;
        var candidates = new List<RouteCandidate>(members.Length);
        int busiest = 0;
        foreach (Member member in members)
        {
            IWorker worker = member.Worker;
            if (member.Draining || worker.State != WorkerState.Ready || worker.Info?.Model != model)
            {
                continue;
            }

            EngineStats? load = worker.Load;
            int waiting = load is null ? 0 : load.WaitingInteractive + load.WaitingStandard + load.WaitingBatch;
            int running = load?.Running ?? 0;

            // A queued request costs more than a running one (it has not even started); requests this pool
            // sent since the last report are not in it yet, so the pool's own count is a floor.
            int requests = Math.Max((2 * waiting) + running, Volatile.Read(ref member.InFlight));
            double kv = load is { KvBlocksTotal: > 0 } ? (double)load.KvBlocksUsed / load.KvBlocksTotal : 0;
            candidates.Add(new RouteCandidate(worker, requests, kv, 0, 0));
            busiest = Math.Max(busiest, requests);
        }

        // Ties rotate so equal workers share the traffic.
        int rotation = candidates.Count == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _rotation) % (uint)candidates.Count);
        for (int i = 0; i < candidates.Count; i++)
        {
            RouteCandidate c = candidates[i];
            candidates[i] = c with { LoadScore = ((double)c.Requests / Math.Max(1, busiest)) + c.KvFraction, TieBreak = (i + candidates.Count - rotation) % candidates.Count };
        }

        return candidates;
    }

    private Member MemberOf(IWorker worker) =>
        Array.Find(_members, m => ReferenceEquals(m.Worker, worker)) ?? throw new ArgumentException($"worker {worker.Id} is not in this pool", nameof(worker));

    private static readonly GenerationRequest EmptyRequest = new() { RequestId = "tokenize", PromptTokens = [], Tenant = string.Empty };

    private sealed class Member(IWorker worker)
    {
        public IWorker Worker { get; } = worker;

        public volatile bool Draining;

        public int InFlight;
    }

    private sealed class EmptyEvents : IAsyncEnumerator<ServedEvent>
    {
        public static readonly EmptyEvents Instance = new();

        public ServedEvent Current => null!;

        public ValueTask<bool> MoveNextAsync() => ValueTask.FromResult(false);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

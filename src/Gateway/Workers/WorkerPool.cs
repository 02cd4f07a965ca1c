using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Gateway.Workers;

/// <summary>
/// The gateway's workers and its routing policy. A request goes to a Ready worker serving its model, ranked
/// by load (queued and running requests relative to the other candidates, plus KV use) and prefix affinity
/// (the worker that last served the prompt's first blocks for the same tenant holds them in its prefix
/// cache, so it is preferred unless it is much busier than the best). A retryable refusal before the first
/// event moves on to the next candidate (each tried once); after the first event errors propagate. Thread-safe.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    private readonly IWorker[] _workers;
    private readonly WorkerPoolOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<ulong, AffinityEntry> _affinity = [];
    private readonly Lock _affinityLock = new();
    private readonly int[] _inFlight;
    private int _rotation;

    public WorkerPool(IEnumerable<IWorker> workers, WorkerPoolOptions? options = null, TimeProvider? time = null, ILogger<WorkerPool>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(workers);
        _workers = [.. workers];
        _options = options ?? new WorkerPoolOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<WorkerPool>.Instance;
        _inFlight = new int[_workers.Length];
    }

    /// <summary>Every worker, whatever its state (for health and metrics).</summary>
    public IReadOnlyList<IWorker> Workers => _workers;

    /// <summary>The distinct models of the workers currently Ready (one <see cref="WorkerInfo"/> per model).</summary>
    public IReadOnlyList<WorkerInfo> Models
    {
        get
        {
            var models = new List<WorkerInfo>();
            foreach (IWorker worker in _workers)
            {
                if (worker.State == WorkerState.Ready && worker.Info is { } info && !models.Exists(m => m.Model == info.Model))
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
            foreach (IWorker worker in _workers)
            {
                if (worker.State == WorkerState.Ready && worker.Load is not null && now - worker.LoadAt <= _options.FreshLoadWithin)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Requests this pool has running on each worker (same order as <see cref="Workers"/>).</summary>
    public int InFlight(IWorker worker) => Volatile.Read(ref _inFlight[IndexOf(worker)]);

    /// <summary>The least-loaded Ready worker serving <paramref name="model"/>, or null.</summary>
    public IWorker? PickForTokenize(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        List<Candidate> candidates = Candidates(model);
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
        (IAsyncEnumerator<ServedEvent> events, int index) = await StartAsync(model, request, cancellationToken).ConfigureAwait(false);
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
            Interlocked.Decrement(ref _inFlight[index]);
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The Ready workers serving <paramref name="model"/>, best first: by load score, with the worker holding the
    /// prompt's prefix moved to the front unless it is more than <see cref="WorkerPoolOptions.AffinityTolerance"/> busier.
    /// </summary>
    internal List<Candidate> Rank(string model, GenerationRequest request, out ulong[] prefixHashes)
    {
        List<Candidate> candidates = Candidates(model);
        prefixHashes = candidates.Count == 0 ? [] : PrefixHashes(request, candidates[0].Worker.Info!.BlockSize);
        if (candidates.Count < 2 || prefixHashes.Length == 0)
        {
            return candidates;
        }

        IWorker? holder = AffinityHolder(prefixHashes);
        int at = holder is null ? -1 : candidates.FindIndex(c => ReferenceEquals(c.Worker, holder));
        if (at > 0 && candidates[at].Score <= candidates[0].Score + _options.AffinityTolerance)
        {
            Candidate preferred = candidates[at];
            candidates.RemoveAt(at);
            candidates.Insert(0, preferred);
        }

        return candidates;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IWorker worker in _workers)
        {
            await worker.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<(IAsyncEnumerator<ServedEvent> Events, int Index)> StartAsync(
        string model, GenerationRequest request, CancellationToken cancellationToken)
    {
        List<Candidate> candidates = Rank(model, request, out ulong[] prefixHashes);
        if (candidates.Count == 0)
        {
            throw new WorkerException(RefusalKind.Unavailable, $"no ready worker serves model '{model}'", "model");
        }

        for (int i = 0; ; i++)
        {
            Candidate candidate = candidates[i];
            Interlocked.Increment(ref _inFlight[candidate.Index]);
            IAsyncEnumerator<ServedEvent> events = candidate.Worker.GenerateAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                // The first MoveNextAsync carries the refusal, if any; an empty stream is not one.
                if (!await events.MoveNextAsync().ConfigureAwait(false))
                {
                    await events.DisposeAsync().ConfigureAwait(false);
                    events = EmptyEvents.Instance;
                }

                Remember(prefixHashes, candidate.Worker);
                return (events, candidate.Index);
            }
            catch (WorkerException ex) when (ex.Retryable && i + 1 < candidates.Count && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Decrement(ref _inFlight[candidate.Index]);
                await events.DisposeAsync().ConfigureAwait(false);
                WorkersLog.RetryingElsewhere(_logger, request.RequestId, candidate.Worker.Id, ex.Kind, ex.Message);
            }
            catch
            {
                Interlocked.Decrement(ref _inFlight[candidate.Index]);
                await events.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private List<Candidate> Candidates(string model)
    {
        var candidates = new List<Candidate>(_workers.Length);
        int busiest = 0;
        for (int i = 0; i < _workers.Length; i++)
        {
            IWorker worker = _workers[i];
            if (worker.State != WorkerState.Ready || worker.Info?.Model != model)
            {
                continue;
            }

            EngineStats? load = worker.Load;
            int waiting = load is null ? 0 : load.WaitingInteractive + load.WaitingStandard + load.WaitingBatch;
            int running = load?.Running ?? 0;

            // A queued request costs more than a running one (it has not even started); requests this pool
            // sent since the last report are not in it yet, so the pool's own count is a floor.
            int requests = Math.Max((2 * waiting) + running, Volatile.Read(ref _inFlight[i]));
            double kv = load is { KvBlocksTotal: > 0 } ? (double)load.KvBlocksUsed / load.KvBlocksTotal : 0;
            candidates.Add(new Candidate(worker, i, requests, kv));
            busiest = Math.Max(busiest, requests);
        }

        // Ties rotate so equal workers share the traffic.
        int rotation = candidates.Count == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _rotation) % (uint)candidates.Count);
        for (int i = 0; i < candidates.Count; i++)
        {
            Candidate c = candidates[i];
            candidates[i] = c with { Score = ((double)c.Requests / Math.Max(1, busiest)) + c.KvFraction, TieBreak = (i + candidates.Count - rotation) % candidates.Count };
        }

        candidates.Sort(static (a, b) => a.Score != b.Score ? a.Score.CompareTo(b.Score) : a.TieBreak.CompareTo(b.TieBreak));
        return candidates;
    }

    /// <summary>Chained hashes of the prompt's first full blocks (h1 covers block 1, h2 blocks 1-2, ...), salted by tenant.</summary>
    internal ulong[] PrefixHashes(GenerationRequest request, int workerBlockSize)
    {
        int blockSize = _options.AffinityBlockSize > 0 ? _options.AffinityBlockSize : workerBlockSize;
        if (blockSize <= 0 || _options.AffinityBlocks == 0)
        {
            return [];
        }

        int blocks = Math.Min(_options.AffinityBlocks, request.PromptTokens.Count / blockSize);
        if (blocks == 0)
        {
            return [];
        }

        // Workers salt their prefix cache per tenant, so only the same tenant's prompts share blocks.
        ulong hash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(request.Tenant));
        var hashes = new ulong[blocks];
        var buffer = new byte[sizeof(ulong) + (blockSize * sizeof(int))];
        for (int b = 0; b < blocks; b++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer, hash);
            for (int t = 0; t < blockSize; t++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(sizeof(ulong) + (t * sizeof(int))), request.PromptTokens[(b * blockSize) + t]);
            }

            hash = XxHash64.HashToUInt64(buffer);
            hashes[b] = hash;
        }

        return hashes;
    }

    private IWorker? AffinityHolder(ulong[] prefixHashes)
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_affinityLock)
        {
            for (int i = prefixHashes.Length - 1; i >= 0; i--)
            {
                if (_affinity.TryGetValue(prefixHashes[i], out AffinityEntry entry) && now - entry.At <= _options.AffinityTtl)
                {
                    return entry.Worker;
                }
            }
        }

        return null;
    }

    private void Remember(ulong[] prefixHashes, IWorker worker)
    {
        if (prefixHashes.Length == 0)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        lock (_affinityLock)
        {
            if (_affinity.Count + prefixHashes.Length > _options.MaxAffinityEntries)
            {
                foreach ((ulong key, AffinityEntry entry) in _affinity)
                {
                    if (now - entry.At > _options.AffinityTtl)
                    {
                        _affinity.Remove(key);
                    }
                }

                if (_affinity.Count + prefixHashes.Length > _options.MaxAffinityEntries)
                {
                    _affinity.Clear();
                }
            }

            foreach (ulong hash in prefixHashes)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(_affinity, hash, out _) = new AffinityEntry(worker, now);
            }
        }
    }

    private int IndexOf(IWorker worker)
    {
        int index = Array.IndexOf(_workers, worker);
        return index >= 0 ? index : throw new ArgumentException($"worker {worker.Id} is not in this pool", nameof(worker));
    }

    /// <summary>A routable worker and its load score (lower is better).</summary>
    internal readonly record struct Candidate(IWorker Worker, int Index, int Requests, double KvFraction)
    {
        public double Score { get; init; }

        public int TieBreak { get; init; }
    }

    private readonly record struct AffinityEntry(IWorker Worker, DateTimeOffset At);

    private sealed class EmptyEvents : IAsyncEnumerator<ServedEvent>
    {
        public static readonly EmptyEvents Instance = new();

        public ServedEvent Current => null!;

        public ValueTask<bool> MoveNextAsync() => ValueTask.FromResult(false);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

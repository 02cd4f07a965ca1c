using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Inference.Gateway.Workers;
using Inference.Scheduler.KvCache;
using Inference.Worker.Engine;

namespace Inference.Gateway.Routing;

/// <summary>
/// Least-loaded, except that the worker which last served the prompt's first blocks for the same tenant goes first
/// unless its load score exceeds the best one by more than <see cref="PrefixAffinityOptions.Tolerance"/>: it holds
/// those blocks in its prefix cache. Prompts are hashed with the workers' own scheme (<see cref="PrefixHash"/> chained
/// per block, salted per tenant by <see cref="PrefixSalt"/>); given the workers' prefix-cache secret the hashes are
/// exactly the ones their block managers register. A longer matching prefix wins.
/// </summary>
public sealed class PrefixAffinityPolicy : IRoutingPolicy
{
    public const string PolicyName = "prefix-affinity";

    private readonly PrefixAffinityOptions _options;
    private readonly byte[] _secret;
    private readonly TimeProvider _time;
    private readonly LeastLoadedPolicy _load = new();
    private readonly Dictionary<ulong, Entry> _holders = [];
    private readonly Lock _lock = new();

    /// <param name="secret">The workers' prefix-cache secret (at least 16 bytes); null: a random one for this process
    /// (routing is then consistent within this gateway only, which is all affinity needs).</param>
    public PrefixAffinityPolicy(PrefixAffinityOptions? options = null, byte[]? secret = null, TimeProvider? time = null)
    {
        _options = options ?? new PrefixAffinityOptions();
        _options.Validate();
        _secret = secret ?? RandomNumberGenerator.GetBytes(32);
        if (_secret.Length < 16)
        {
            throw new ArgumentException("the prefix-cache secret must be at least 16 bytes", nameof(secret));
        }

        _time = time ?? TimeProvider.System;
    }

    public string Name => PolicyName;

    /// <summary>The chained hashes of the prompt's first full blocks (element i covers blocks 0..i), for <paramref name="blockSize"/>.</summary>
    public ulong[] PrefixHashes(GenerationRequest request, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(request);
        int size = _options.BlockSize > 0 ? _options.BlockSize : blockSize;
        return size <= 0 || _options.Blocks == 0 ? []
            : PrefixHash.Chain(PrefixSalt.For(_secret, request.Tenant), request.PromptTokens, size, _options.Blocks);
    }

    public void Rank(List<RouteCandidate> candidates, GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        _load.Rank(candidates, request);
        if (candidates.Count < 2 || Holder(Hashes(candidates, request)) is not { } holder)
        {
            return;
        }

        int at = candidates.FindIndex(c => ReferenceEquals(c.Worker, holder));
        if (at > 0 && candidates[at].LoadScore <= candidates[0].LoadScore + _options.Tolerance)
        {
            RouteCandidate preferred = candidates[at];
            candidates.RemoveAt(at);
            candidates.Insert(0, preferred);
        }
    }

    public void Routed(GenerationRequest request, IWorker worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        if (worker.Info is not { } info)
        {
            return;
        }

        ulong[] hashes = PrefixHashes(request, info.BlockSize);
        if (hashes.Length == 0)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_holders.Count + hashes.Length > _options.MaxEntries)
            {
                foreach ((ulong key, Entry entry) in _holders)
                {
                    if (now - entry.At > _options.Ttl)
                    {
                        _holders.Remove(key);
                    }
                }

                if (_holders.Count + hashes.Length > _options.MaxEntries)
                {
                    _holders.Clear();
                }
            }

            foreach (ulong hash in hashes)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(_holders, hash, out _) = new Entry(worker, now);
            }
        }
    }

    public void Forget(IWorker worker)
    {
        lock (_lock)
        {
            foreach ((ulong key, Entry entry) in _holders)
            {
                if (ReferenceEquals(entry.Worker, worker))
                {
                    _holders.Remove(key);
                }
            }
        }
    }

    private ulong[] Hashes(List<RouteCandidate> candidates, GenerationRequest request) =>
        candidates[0].Worker.Info is { } info ? PrefixHashes(request, info.BlockSize) : [];

    private IWorker? Holder(ulong[] hashes)
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            for (int i = hashes.Length - 1; i >= 0; i--)
            {
                if (_holders.TryGetValue(hashes[i], out Entry entry) && now - entry.At <= _options.Ttl)
                {
                    return entry.Worker;
                }
            }
        }

        return null;
    }

    private readonly record struct Entry(IWorker Worker, DateTimeOffset At);
}

/// <summary>How <see cref="PrefixAffinityPolicy"/> hashes prompts and remembers which worker holds them.</summary>
public sealed record PrefixAffinityOptions
{
    /// <summary>Prompt blocks hashed (the first N full blocks; a longer match wins).</summary>
    public int Blocks { get; init; } = 4;

    /// <summary>Tokens per block; 0 uses the worker's KV block size (so affinity follows its prefix cache).</summary>
    public int BlockSize { get; init; }

    /// <summary>How long a worker is remembered as holding a prefix after it last served it.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Bound on remembered prefixes; past it, expired entries go first, then all.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>The holder goes first unless its load score exceeds the best by more than this (scores in [0, 2]).</summary>
    public double Tolerance { get; init; } = 0.5;

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value)
        {
            if (!ok)
            {
                throw new ArgumentException($"PrefixAffinityOptions.{name} = {value} is invalid.");
            }
        }

        Require(Blocks >= 0, nameof(Blocks), Blocks);
        Require(BlockSize >= 0, nameof(BlockSize), BlockSize);
        Require(Ttl > TimeSpan.Zero, nameof(Ttl), Ttl);
        Require(MaxEntries >= 1, nameof(MaxEntries), MaxEntries);
        Require(Tolerance >= 0 && double.IsFinite(Tolerance), nameof(Tolerance), Tolerance);
    }
}

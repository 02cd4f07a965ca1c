namespace Inference.Gateway.Quotas;

/// <summary>
/// Tokens and a concurrency slot held by one admitted request. <see cref="CompleteAsync"/> must run when the
/// request ends, however it ends (finished, failed, client gone): it frees the slot and replaces the reserved
/// tokens by the actual ones in the per-minute window and in the day's and month's counters.
/// Only the first call counts; later calls do nothing. <see cref="DisposeAsync"/> is a safety net that
/// completes with the full reservation when nothing else did.
/// </summary>
public sealed class Reservation : IAsyncDisposable
{
    private readonly IQuotaStore? _store;
    private readonly QuotaReleaseRequest? _release;
    private int _completed;

    internal Reservation(string id, long reservedTokens, IQuotaStore? store, QuotaReleaseRequest? release)
    {
        Id = id;
        ReservedTokens = reservedTokens;
        _store = store;
        _release = release;
    }

    /// <summary>Unique id of this reservation (as stored in Redis).</summary>
    public string Id { get; }

    /// <summary>Tokens reserved at admission (prompt + max_tokens).</summary>
    public long ReservedTokens { get; }

    /// <summary>True once completed.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>
    /// Ends the reservation: <paramref name="actualTotalTokens"/> (prompt + completion actually used) replace the
    /// reserved tokens, and the concurrency slot is freed. Idempotent: only the first call has an effect.
    /// Pass a token that is not the (possibly already cancelled) request's own.
    /// </summary>
    public ValueTask CompleteAsync(long actualTotalTokens, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(actualTotalTokens);
        if (Interlocked.Exchange(ref _completed, 1) != 0 || _store is null || _release is null)
        {
            return ValueTask.CompletedTask;
        }

        return _store.ReleaseAsync(_release with { ActualTokens = actualTotalTokens }, ct);
    }

    /// <summary>For a request that failed before it ran: gives every reserved token back (complete with 0).</summary>
    public ValueTask ReleaseUnusedAsync(CancellationToken ct = default) => CompleteAsync(0, ct);

    /// <summary>Completes with the full reservation if the request never reported its usage.</summary>
    public ValueTask DisposeAsync() => CompleteAsync(ReservedTokens);
}

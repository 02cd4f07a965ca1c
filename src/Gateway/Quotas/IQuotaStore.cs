using Inference.Gateway.Keys;

namespace Inference.Gateway.Quotas;

/// <summary>
/// Shared counters behind <see cref="QuotaManager"/>: per scope (a key or a tenant) a sliding 60-second window
/// of admissions with their tokens, the reservations in flight, and the tokens of the current UTC day and month.
/// <see cref="MemoryQuotaStore"/> serves one gateway; <see cref="RedisQuotaStore"/> several replicas.
/// </summary>
public interface IQuotaStore
{
    /// <summary>
    /// Atomically checks every limit of every scope and, only if all pass, records the admission in all of them
    /// (all or nothing). Usage in the result is as it was before this request.
    /// </summary>
    ValueTask<QuotaAdmitResult> TryAdmitAsync(QuotaAdmitRequest request, CancellationToken ct);

    /// <summary>Frees the reservation's slot and moves its tokens from reserved to actual in every scope.</summary>
    ValueTask ReleaseAsync(QuotaReleaseRequest request, CancellationToken ct);
}

/// <summary>One set of counters: a key ("k:{KeyId}") or a tenant ("t:{tenant}").</summary>
/// <param name="Id">Unique name of the scope.</param>
/// <param name="Tenant">Tenant of the scope; Redis keys of one admission share it as hash tag (cluster slot).</param>
/// <param name="Limits">Limits to check in this scope.</param>
public sealed record QuotaScope(string Id, string Tenant, Limits Limits);

/// <summary>An admission to check and record.</summary>
/// <param name="ReservationId">Unique id of the reservation.</param>
/// <param name="NowMs">Now, Unix milliseconds (from the gateway's TimeProvider, so replicas need synced clocks).</param>
/// <param name="Tokens">Tokens to reserve.</param>
/// <param name="Scopes">Scopes to check and record, key first.</param>
/// <param name="Day">UTC day stamp "yyyyMMdd" of the daily budget.</param>
/// <param name="Month">UTC month stamp "yyyyMM" of the monthly budget.</param>
/// <param name="WindowMs">Length of the per-minute window (60,000).</param>
/// <param name="LeaseMs">How long a concurrency slot is held at most if never released (a crashed replica).</param>
public sealed record QuotaAdmitRequest(
    string ReservationId, long NowMs, long Tokens, IReadOnlyList<QuotaScope> Scopes, string Day, string Month, long WindowMs, long LeaseMs);

/// <summary>A scope's usage, before the request being admitted.</summary>
/// <param name="Requests">Admissions in the window.</param>
/// <param name="Tokens">Tokens in the window (reserved, or actual once completed).</param>
/// <param name="OldestMs">Unix ms of the oldest admission in the window; -1 when empty.</param>
/// <param name="Concurrent">Reservations in flight.</param>
/// <param name="DayTokens">Tokens today (UTC).</param>
/// <param name="MonthTokens">Tokens this month (UTC).</param>
public readonly record struct ScopeUsage(long Requests, long Tokens, long OldestMs, long Concurrent, long DayTokens, long MonthTokens);

/// <summary>What <see cref="IQuotaStore.TryAdmitAsync"/> decided.</summary>
/// <param name="Admitted">True when recorded in every scope.</param>
/// <param name="FailedScope">Index into the request's scopes of the first scope that refused; -1 when admitted.</param>
/// <param name="FailedLimit">The limit that refused.</param>
/// <param name="RetryAfterMs">For per-minute limits: ms until the window has room for the request; -1 when unknown or never.</param>
/// <param name="Usage">Usage per scope, in the request's order, before this request.</param>
/// <param name="LocalLimits">
/// Set when the shared store was unreachable and this replica decided alone (<see cref="FailoverQuotaStore"/>): the
/// limits it checked per scope (its share of each rate limit). Null when the shared store decided.
/// </param>
/// <param name="StoreUnavailable">
/// True when the shared store was unreachable and <see cref="FailedScope"/> has a token budget (<see cref="FailedLimit"/>),
/// which no replica can enforce alone: refused without checking anything else.
/// </param>
public sealed record QuotaAdmitResult(
    bool Admitted, int FailedScope, QuotaLimit FailedLimit, long RetryAfterMs, IReadOnlyList<ScopeUsage> Usage,
    IReadOnlyList<Limits>? LocalLimits = null, bool StoreUnavailable = false);

/// <summary>The end of a reservation.</summary>
/// <param name="ReservationId">The reservation.</param>
/// <param name="Scopes">The scopes it was recorded in.</param>
/// <param name="ReservedTokens">Tokens reserved at admission.</param>
/// <param name="ActualTokens">Tokens actually used.</param>
/// <param name="Day">Day stamp at admission: the adjustment goes to the day that was charged.</param>
/// <param name="Month">Month stamp at admission.</param>
public sealed record QuotaReleaseRequest(
    string ReservationId, IReadOnlyList<QuotaScope> Scopes, long ReservedTokens, long ActualTokens, string Day, string Month);

/// <summary>Usage admitted by a replica alone while the shared store was unreachable, to add to it when it is back.</summary>
/// <param name="ReservationId">The reservation (unique across replicas).</param>
/// <param name="Scopes">The scopes it counts in (with their real limits).</param>
/// <param name="AtMs">Unix ms of its admission.</param>
/// <param name="Tokens">Tokens it used (its reservation while it still runs).</param>
/// <param name="Day">Day stamp at admission.</param>
/// <param name="Month">Month stamp at admission.</param>
/// <param name="WindowMs">Length of the per-minute window.</param>
public sealed record QuotaAbsorbRequest(
    string ReservationId, IReadOnlyList<QuotaScope> Scopes, long AtMs, long Tokens, string Day, string Month, long WindowMs);

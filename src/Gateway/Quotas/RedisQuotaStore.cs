using System.Globalization;
using StackExchange.Redis;

namespace Inference.Gateway.Quotas;

/// <summary>
/// Quota counters in Redis, shared by every gateway replica that uses the same server and prefix. Each admission
/// and each release is one Lua script, so checks and reservations of all scopes are atomic across replicas.
/// </summary>
/// <remarks>
/// Keys per scope (all carry the tenant as hash tag, so one admission stays in one cluster slot):
/// <c>{prefix}:{{tenant}}:{scope}:w</c> sorted set of admissions in the window (score = admission ms),
/// <c>…:t</c> hash of their tokens plus the running sum in field <c>#sum</c>,
/// <c>…:c</c> sorted set of reservations in flight (score = lease end ms),
/// <c>…:d:{yyyyMMdd}</c> and <c>…:m:{yyyyMM}</c> token counters, and per absorbed reservation a marker
/// <c>{prefix}:{{tenant}}:a:{id}</c> (<see cref="AbsorbAsync"/>). Every key has an expiry.
/// A release applies its budget adjustment only when it frees the reservation's slot, so a release that is retried
/// (its reply was lost) or that undoes an admission that never ran changes nothing; one that comes after the lease
/// expired leaves the full reservation charged.
/// Time comes from the gateways (ARGV), not from Redis, so replicas' clocks must agree (NTP).
/// </remarks>
public sealed class RedisQuotaStore : IQuotaStore
{
    private const int KeysPerScope = 5;

    private const string AdmitScript = """
        local now = tonumber(ARGV[1])
        local id = ARGV[2]
        local tokens = tonumber(ARGV[3])
        local window = tonumber(ARGV[4])
        local lease = tonumber(ARGV[5])
        local n = tonumber(ARGV[6])
        local dayTtl = tonumber(ARGV[7])
        local monthTtl = tonumber(ARGV[8])
        local head = {0, -1, 0, -1}
        local usage = {}
        for i = 1, n do
          local b = (i - 1) * 5
          local w, t, c, d, m = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4], KEYS[b + 5]
          local a = 8 + b
          local rpm, tpm, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
          local daily, monthly = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
          local cutoff = now - window
          local old = redis.call('ZRANGEBYSCORE', w, '-inf', cutoff)
          if #old > 0 then
            local freed = 0
            for j = 1, #old do
              freed = freed + (tonumber(redis.call('HGET', t, old[j])) or 0)
              redis.call('HDEL', t, old[j])
            end
            redis.call('HINCRBY', t, '#sum', -freed)
            redis.call('ZREMRANGEBYSCORE', w, '-inf', cutoff)
          end
          redis.call('ZREMRANGEBYSCORE', c, '-inf', now)
          local reqs = redis.call('ZCARD', w)
          local sum = tonumber(redis.call('HGET', t, '#sum')) or 0
          local inflight = redis.call('ZCARD', c)
          local day = tonumber(redis.call('GET', d)) or 0
          local month = tonumber(redis.call('GET', m)) or 0
          local oldest = -1
          local first = redis.call('ZRANGE', w, 0, 0, 'WITHSCORES')
          if #first > 0 then oldest = tonumber(first[2]) end
          if head[2] < 0 then
            local which = 0
            local retry = -1
            if daily >= 0 and day + tokens > daily then
              which = 4
            elseif monthly >= 0 and month + tokens > monthly then
              which = 5
            elseif rpm >= 0 and reqs + 1 > rpm then
              which = 1
              if rpm > 0 then
                local e = redis.call('ZRANGE', w, reqs - rpm, reqs - rpm, 'WITHSCORES')
                retry = tonumber(e[2]) + window - now
              end
            elseif tpm >= 0 and sum + tokens > tpm then
              which = 2
              if tokens <= tpm then
                local need = sum + tokens - tpm
                local entries = redis.call('ZRANGE', w, 0, -1, 'WITHSCORES')
                local freed = 0
                for j = 1, #entries, 2 do
                  freed = freed + (tonumber(redis.call('HGET', t, entries[j])) or 0)
                  if freed >= need then
                    retry = tonumber(entries[j + 1]) + window - now
                    break
                  end
                end
              end
            elseif conc >= 0 and inflight + 1 > conc then
              which = 3
            end
            if which > 0 then
              head = {0, i - 1, which, retry}
            end
          end
          local u = #usage
          usage[u + 1] = reqs
          usage[u + 2] = sum
          usage[u + 3] = oldest
          usage[u + 4] = inflight
          usage[u + 5] = day
          usage[u + 6] = month
        end
        if head[2] < 0 then
          head[1] = 1
          for i = 1, n do
            local b = (i - 1) * 5
            local w, t, c, d, m = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4], KEYS[b + 5]
            redis.call('ZADD', w, now, id)
            redis.call('HSET', t, id, tokens)
            redis.call('HINCRBY', t, '#sum', tokens)
            redis.call('ZADD', c, now + lease, id)
            redis.call('INCRBY', d, tokens)
            redis.call('INCRBY', m, tokens)
            redis.call('PEXPIRE', w, window + 60000)
            redis.call('PEXPIRE', t, window + 60000)
            redis.call('PEXPIRE', c, lease + 60000)
            redis.call('PEXPIRE', d, dayTtl)
            redis.call('PEXPIRE', m, monthTtl)
          end
        end
        for j = 1, #usage do head[#head + 1] = usage[j] end
        return head
        """;

    private const string ReleaseScript = """
        local id = ARGV[1]
        local reserved = tonumber(ARGV[2])
        local actual = tonumber(ARGV[3])
        local n = tonumber(ARGV[4])
        local delta = actual - reserved
        for i = 1, n do
          local b = (i - 1) * 5
          local t, c, d, m = KEYS[b + 2], KEYS[b + 3], KEYS[b + 4], KEYS[b + 5]
          local held = redis.call('ZREM', c, id)
          local current = redis.call('HGET', t, id)
          if current then
            redis.call('HSET', t, id, actual)
            redis.call('HINCRBY', t, '#sum', actual - tonumber(current))
          end
          if held == 1 and delta ~= 0 then
            if redis.call('EXISTS', d) == 1 then redis.call('INCRBY', d, delta) end
            if redis.call('EXISTS', m) == 1 then redis.call('INCRBY', m, delta) end
          end
        end
        return 1
        """;

    // KEYS: 5 per scope as for admission, then the absorb marker. A marker that is already set means this usage
    // was absorbed before (a retry after a lost reply): nothing is counted twice.
    private const string AbsorbScript = """
        local id = ARGV[1]
        local at = tonumber(ARGV[2])
        local tokens = tonumber(ARGV[3])
        local n = tonumber(ARGV[4])
        local window = tonumber(ARGV[5])
        local now = tonumber(ARGV[6])
        local dayTtl = tonumber(ARGV[7])
        local monthTtl = tonumber(ARGV[8])
        if not redis.call('SET', KEYS[n * 5 + 1], '1', 'NX', 'PX', ARGV[9]) then
          return 0
        end
        for i = 1, n do
          local b = (i - 1) * 5
          local w, t, d, m = KEYS[b + 1], KEYS[b + 2], KEYS[b + 4], KEYS[b + 5]
          if at > now - window then
            local previous = tonumber(redis.call('HGET', t, id)) or 0
            redis.call('ZADD', w, at, id)
            redis.call('HSET', t, id, tokens)
            redis.call('HINCRBY', t, '#sum', tokens - previous)
            redis.call('PEXPIRE', w, window + 60000)
            redis.call('PEXPIRE', t, window + 60000)
          end
          redis.call('INCRBY', d, tokens)
          redis.call('INCRBY', m, tokens)
          redis.call('PEXPIRE', d, dayTtl)
          redis.call('PEXPIRE', m, monthTtl)
        end
        return 1
        """;

    // An absorb is retried only while the store is coming back; its marker need not outlive that by much.
    private static readonly long AbsorbMarkerTtlMs = (long)TimeSpan.FromHours(1).TotalMilliseconds;

    // Budget counters outlive their period a little, so a late completion still finds the day it adjusts.
    private static readonly long DayTtlMs = (long)TimeSpan.FromDays(2).TotalMilliseconds;
    private static readonly long MonthTtlMs = (long)TimeSpan.FromDays(33).TotalMilliseconds;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;

    /// <summary>Creates the store; replicas that should share limits use the same <paramref name="prefix"/>.</summary>
    public RedisQuotaStore(IConnectionMultiplexer redis, string prefix = "quota")
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _redis = redis;
        _prefix = prefix;
    }

    /// <inheritdoc/>
    public async ValueTask<QuotaAdmitResult> TryAdmitAsync(QuotaAdmitRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var scopes = request.Scopes;
        var keys = Keys(scopes, request.Day, request.Month);
        var args = new RedisValue[8 + (scopes.Count * 5)];
        args[0] = request.NowMs;
        args[1] = request.ReservationId;
        args[2] = request.Tokens;
        args[3] = request.WindowMs;
        args[4] = request.LeaseMs;
        args[5] = scopes.Count;
        args[6] = DayTtlMs;
        args[7] = MonthTtlMs;
        for (var i = 0; i < scopes.Count; i++)
        {
            var limits = scopes[i].Limits;
            var a = 8 + (i * 5);
            args[a] = limits.RequestsPerMinute ?? -1;
            args[a + 1] = limits.TokensPerMinute ?? -1;
            args[a + 2] = limits.ConcurrentRequests ?? -1;
            args[a + 3] = limits.DailyTokens ?? -1;
            args[a + 4] = limits.MonthlyTokens ?? -1;
        }

        var result = await _redis.GetDatabase().ScriptEvaluateAsync(AdmitScript, keys, args).WaitAsync(ct).ConfigureAwait(false);
        var values = (long[])result!;
        var usage = new ScopeUsage[scopes.Count];
        for (var i = 0; i < scopes.Count; i++)
        {
            var u = 4 + (i * 6);
            usage[i] = new ScopeUsage(values[u], values[u + 1], values[u + 2], values[u + 3], values[u + 4], values[u + 5]);
        }

        return values[0] == 1
            ? new QuotaAdmitResult(true, -1, QuotaLimit.None, -1, usage)
            : new QuotaAdmitResult(false, (int)values[1], (QuotaLimit)values[2], values[3], usage);
    }

    /// <inheritdoc/>
    public async ValueTask ReleaseAsync(QuotaReleaseRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var keys = Keys(request.Scopes, request.Day, request.Month);
        RedisValue[] args = [request.ReservationId, request.ReservedTokens, request.ActualTokens, request.Scopes.Count];
        await _redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, keys, args).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds usage that was admitted and counted elsewhere (by a replica's local share while this store was
    /// unreachable) to every scope: to the per-minute window when the admission is still inside it (at its own
    /// time, with its tokens), and to the day's and month's counters. At most once per reservation id, however
    /// often it is retried. Concurrency is not added: the request was (or is) held by the replica that admitted it.
    /// </summary>
    public async ValueTask AbsorbAsync(QuotaAbsorbRequest request, long nowMs, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var scopes = request.Scopes;
        var scopeKeys = Keys(scopes, request.Day, request.Month);
        var keys = new RedisKey[scopeKeys.Length + 1];
        scopeKeys.CopyTo(keys, 0);
        keys[^1] = string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{{{Tag(scopes[0].Tenant)}}}:a:{request.ReservationId}");
        RedisValue[] args =
        [
            request.ReservationId, request.AtMs, request.Tokens, scopes.Count, request.WindowMs, nowMs, DayTtlMs, MonthTtlMs, AbsorbMarkerTtlMs,
        ];
        await _redis.GetDatabase().ScriptEvaluateAsync(AbsorbScript, keys, args).WaitAsync(ct).ConfigureAwait(false);
    }

    // Braces inside a tenant name would move the hash tag; they are replaced.
    private static string Tag(string tenant) => tenant.Replace('{', '(').Replace('}', ')');

    private RedisKey[] Keys(IReadOnlyList<QuotaScope> scopes, string day, string month)
    {
        var keys = new RedisKey[scopes.Count * KeysPerScope];
        for (var i = 0; i < scopes.Count; i++)
        {
            var stem = string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{{{Tag(scopes[i].Tenant)}}}:{scopes[i].Id}:");
            var k = i * KeysPerScope;
            keys[k] = stem + "w";
            keys[k + 1] = stem + "t";
            keys[k + 2] = stem + "c";
            keys[k + 3] = stem + "d:" + day;
            keys[k + 4] = stem + "m:" + month;
        }

        return keys;
    }
}

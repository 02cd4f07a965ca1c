using Inference.Gateway.Keys;
using Inference.Gateway.Quotas;
using Inference.Gateway.Redis;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Quotas;

/// <summary>
/// <see cref="FailoverQuotaStore"/> through <see cref="QuotaManager"/> while a real RESP server (redis-server, or
/// Garnet when it is not installed) is killed and started again on the same port.
/// </summary>
public sealed class FailoverQuotaStoreTests
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(60);
    private static readonly ApiKey Rpm = new("aaaaaaaaaaaaaaaa", "sk-…", "acme", Tier.Basic);
    private static readonly ApiKey Budgeted = new("bbbbbbbbbbbbbbbb", "sk-…", "acme", Tier.Basic);
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task StoreKilled_LocalShareAndBudgetsRefused_ThenOutageUsageCountsInSharedWindow()
    {
        await using OwnedRespServer server = await OwnedRespServer.StartAsync();
        await using var redis = await server.ConnectAsync();
        await using var monitor = new RedisStoreMonitor(redis, TimeProvider.System, server.Logger<RedisStoreMonitor>(), TimeSpan.FromMilliseconds(100));
        var store = new FailoverQuotaStore(new RedisQuotaStore(redis, "fq"), monitor, expectedReplicas: 2, _time, server.Logger<FailoverQuotaStore>());
        var quotas = new QuotaManager(store, _time);
        var rpm4 = new Limits(RequestsPerMinute: 4);
        var budget = new Limits(DailyTokens: 1000);
        var before = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        Assert.True(before.Admitted);

        await server.KillAsync();

        // Two of four per minute on this replica (one of two), whatever the shared window held.
        var a = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        var b = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        var c = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        Assert.True(a.Admitted, a.Message);
        Assert.True(b.Admitted, b.Message);
        Assert.Equal(QuotaRejection.RateLimit, c.Kind);
        Assert.Equal("requests per minute limit (2) reached for this key's share on this replica while the limits store is unavailable", c.Message);
        Assert.Equal(2, c.Headers.LimitRequests);
        Assert.False(monitor.IsUp);
        var refused = await quotas.AdmitAsync(Budgeted, budget, Limits.Unlimited, 10, default).Within();
        Assert.Equal(QuotaRejection.StoreUnavailable, refused.Kind);
        Assert.Equal(QuotaLimit.DailyTokens, refused.Limit);
        Assert.Equal("the limits store is unavailable, so the daily token budget of this key cannot be checked; retry shortly", refused.Message);
        Assert.Null(refused.Reservation);
        await a.Reservation!.CompleteAsync(7).Within();      // released locally; its usage waits for the store
        await before.Reservation!.CompleteAsync(5).Within(); // a shared reservation ending in the outage: its release waits
        Assert.Equal(1, store.AdmittedLocally);
        Assert.InRange(store.Queued, 2, 3); // 3 when the kill was noticed by a failed admission (its undo waits too)

        await server.RestartAsync(); // empty: no persistence
        await Eventually.TrueAsync(() => monitor.IsUp, Recovery, "the monitor sees the store back");

        Assert.Equal(0, store.Queued);
        await b.Reservation!.CompleteAsync(9).Within(); // ends after the store is back: absorbed at once
        Assert.Equal(0, store.AdmittedLocally);
        // The shared window now holds a and b (admitted in the outage): two more of four, then the shared limit.
        var after1 = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        var after2 = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        var after3 = await quotas.AdmitAsync(Rpm, rpm4, Limits.Unlimited, 10, default).Within();
        Assert.True(after1.Admitted, after1.Message);
        Assert.Equal(1, after1.Headers.RemainingRequests);
        Assert.True(after2.Admitted, after2.Message);
        Assert.Equal("requests per minute limit (4) reached for this key", after3.Message);
        var tpmUsed = (await quotas.AdmitAsync(Rpm, new Limits(TokensPerMinute: 1000), Limits.Unlimited, 0, default).Within()).Headers.RemainingTokens;
        Assert.Equal(1000 - 7 - 9 - 10 - 10, tpmUsed); // a's and b's actual tokens, after1's and after2's reservations
        Assert.True((await quotas.AdmitAsync(Budgeted, budget, Limits.Unlimited, 10, default).Within()).Admitted);
        Assert.Single(server.Logs.Entries, e => e.EventId == 3201 && e.Level == LogLevel.Warning);
        Assert.Single(server.Logs.Entries, e => e.EventId == 3202 && e.Level == LogLevel.Information);
        Assert.Empty(server.Logs.Errors);
    }
}

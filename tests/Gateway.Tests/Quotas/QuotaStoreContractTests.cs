using Inference.Gateway.Keys;
using Inference.Gateway.Quotas;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Quotas;

/// <summary>What every <see cref="IQuotaStore"/> must do, checked through <see cref="QuotaManager"/>.</summary>
public abstract class QuotaStoreContractTests
{
    private protected ManualTimeProvider Time { get; } = new();

    /// <summary>A fresh store with no state.</summary>
    protected abstract Task<IQuotaStore> CreateStoreAsync();

    /// <summary>Another replica sharing <paramref name="store"/>'s state (for memory: the same store).</summary>
    protected abstract Task<IQuotaStore> CreateReplicaAsync(IQuotaStore store);

    private static ApiKey Key(string id = "aaaaaaaaaaaaaaaa", string tenant = "acme") => new(id, "sk-tes…", tenant, Tier.Basic);

    private async Task<QuotaManager> ManagerAsync() => new(await CreateStoreAsync(), Time);

    [ServerFact]
    public async Task AdmitAsync_SixtyFirstRequestInWindow_RefusedWithRetryAfterAndHeaders()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(RequestsPerMinute: 60);
        var first = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();
        Assert.True(first.Admitted);
        Assert.Equal(59, first.Headers.RemainingRequests);
        Time.Advance(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 59; i++)
        {
            Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted, $"request {i + 2}");
        }

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();

        Assert.False(refused.Admitted);
        Assert.Equal(QuotaRejection.RateLimit, refused.Kind);
        Assert.Equal(QuotaLimit.RequestsPerMinute, refused.Limit);
        Assert.Null(refused.Reservation);
        Assert.Equal("requests per minute limit (60) reached for this key", refused.Message);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
        Assert.Equal(60, refused.Headers.LimitRequests);
        Assert.Equal(0, refused.Headers.RemainingRequests);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.ResetRequests);
        var headers = refused.Headers.ToHeaders().ToDictionary();
        Assert.Equal("60", headers["x-ratelimit-limit-requests"]);
        Assert.Equal("0", headers["x-ratelimit-remaining-requests"]);
        Assert.Equal("30s", headers["x-ratelimit-reset-requests"]);

        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted);
        Assert.False((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task AdmitAsync_SixtyFirstRequestAtOnce_RetryAfterAtLeastOneSecond()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(RequestsPerMinute: 60);
        for (var i = 0; i < 60; i++)
        {
            Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted);
        }

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();

        Assert.Equal(QuotaRejection.RateLimit, refused.Kind);
        Assert.True(refused.RetryAfter >= TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(60), refused.RetryAfter);
    }

    [ServerFact]
    public async Task AdmitAsync_TokensPerMinuteExceeded_RefusedUntilCompletionReturnsTokens()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(TokensPerMinute: 1000);
        var first = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 600, default).Within();
        Assert.True(first.Admitted);
        Assert.Equal(400, first.Headers.RemainingTokens);
        Time.Advance(TimeSpan.FromSeconds(10));

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 500, default).Within();
        Assert.Equal(QuotaRejection.RateLimit, refused.Kind);
        Assert.Equal(QuotaLimit.TokensPerMinute, refused.Limit);
        Assert.Equal(TimeSpan.FromSeconds(50), refused.RetryAfter);
        Assert.Equal(1000, refused.Headers.LimitTokens);
        Assert.Equal(400, refused.Headers.RemainingTokens);
        Assert.Contains("tokens per minute limit (1000)", refused.Message);

        await first.Reservation!.CompleteAsync(100).Within();

        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 500, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task AdmitAsync_RequestLargerThanTokensPerMinute_RefusedWithoutRetryAfter()
    {
        var quotas = await ManagerAsync();

        var refused = await quotas.AdmitAsync(Key(), new Limits(TokensPerMinute: 1000), Limits.Unlimited, 1001, default).Within();

        Assert.Equal(QuotaRejection.RateLimit, refused.Kind);
        Assert.Null(refused.RetryAfter);
        Assert.Contains("more than the tokens per minute limit (1000)", refused.Message);
    }

    [ServerFact]
    public async Task CompleteAsync_ConcurrencyLimitReached_ReleasesSlot()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(ConcurrentRequests: 2);
        var a = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 10, default).Within();
        var b = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 10, default).Within();
        Assert.True(a.Admitted && b.Admitted);

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 10, default).Within();
        Assert.Equal(QuotaRejection.Concurrency, refused.Kind);
        Assert.Equal("concurrent requests limit (2) reached for this key", refused.Message);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);

        await a.Reservation!.CompleteAsync(5).Within();

        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 10, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task AdmitAsync_DailyBudgetSpent_QuotaUntilUtcMidnightThenAdmitted()
    {
        var start = new DateTimeOffset(2026, 3, 10, 23, 59, 0, TimeSpan.Zero);
        Time.Advance(start - Time.GetUtcNow());
        var quotas = await ManagerAsync();
        var limits = new Limits(DailyTokens: 1000);
        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1000, default).Within()).Admitted);

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();
        Assert.Equal(QuotaRejection.Quota, refused.Kind);
        Assert.Equal(QuotaLimit.DailyTokens, refused.Limit);
        Assert.Equal(TimeSpan.FromMinutes(1), refused.RetryAfter);
        Assert.Contains("daily token budget (1000) exhausted for this key", refused.Message);

        Time.Advance(TimeSpan.FromMinutes(2));

        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1000, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task AdmitAsync_MonthlyBudgetSpent_QuotaUntilFirstOfMonthThenAdmitted()
    {
        var start = new DateTimeOffset(2026, 1, 31, 23, 0, 0, TimeSpan.Zero);
        Time.Advance(start - Time.GetUtcNow());
        var quotas = await ManagerAsync();
        var limits = new Limits(MonthlyTokens: 1000);
        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1000, default).Within()).Admitted);

        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();
        Assert.Equal(QuotaRejection.Quota, refused.Kind);
        Assert.Equal(QuotaLimit.MonthlyTokens, refused.Limit);
        Assert.Equal(TimeSpan.FromHours(1), refused.RetryAfter);

        Time.Advance(TimeSpan.FromHours(1));

        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1000, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task CompleteAsync_Reserve100Use30_Returns70ToBudget()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(DailyTokens: 100, MonthlyTokens: 100);
        var first = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 100, default).Within();
        Assert.False((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted);

        await first.Reservation!.CompleteAsync(30).Within();

        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 70, default).Within()).Admitted);
        Assert.False((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within()).Admitted);
    }

    [ServerFact]
    public async Task CompleteAsync_CalledThreeTimes_CountsOnce()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(DailyTokens: 100, ConcurrentRequests: 2);
        var first = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 100, default).Within();
        var reservation = first.Reservation!;

        await reservation.CompleteAsync(30).Within();
        await reservation.CompleteAsync(30).Within();
        await reservation.ReleaseUnusedAsync().Within();
        await reservation.DisposeAsync().Within();

        Assert.True(reservation.IsCompleted);
        Assert.True((await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 70, default).Within()).Admitted);
        var refused = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 1, default).Within();
        Assert.Equal(QuotaLimit.DailyTokens, refused.Limit);
    }

    [ServerFact]
    public async Task ReleaseUnusedAsync_FailedBeforeRunning_ReturnsEverything()
    {
        var quotas = await ManagerAsync();
        var limits = new Limits(TokensPerMinute: 100, DailyTokens: 100, ConcurrentRequests: 1);
        var first = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 100, default).Within();

        await first.Reservation!.ReleaseUnusedAsync().Within();

        var again = await quotas.AdmitAsync(Key(), limits, Limits.Unlimited, 100, default).Within();
        Assert.True(again.Admitted, again.Message);
    }

    [ServerFact]
    public async Task AdmitAsync_FiftyConcurrentAgainstBudgetForOne_AtMostOneAdmitted()
    {
        var store = await CreateStoreAsync();
        var replica = await CreateReplicaAsync(store);
        var managers = new[] { new QuotaManager(store, Time), new QuotaManager(replica, Time) };
        var limits = new Limits(DailyTokens: 150);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var admissions = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            // An async gate, not a Barrier: 50 blocked pool threads on 2 cores would wait for thread injection.
            await start.Task;
            return await managers[i % 2].AdmitAsync(Key(), limits, Limits.Unlimited, 100, default);
        })).ToList();

        start.SetResult();
        var decisions = await Task.WhenAll(admissions).Within();

        Assert.Equal(1, decisions.Count(d => d.Admitted));
        Assert.All(decisions.Where(d => !d.Admitted), d => Assert.Equal(QuotaRejection.Quota, d.Kind));
    }

    [ServerFact]
    public async Task AdmitAsync_TenantLimit_SharedAcrossKeys()
    {
        var quotas = await ManagerAsync();
        var keyLimits = new Limits(RequestsPerMinute: 10);
        var tenantLimits = new Limits(RequestsPerMinute: 3);
        var a = Key("aaaaaaaaaaaaaaaa");
        var b = Key("bbbbbbbbbbbbbbbb");
        Assert.True((await quotas.AdmitAsync(a, keyLimits, tenantLimits, 1, default).Within()).Admitted);
        Assert.True((await quotas.AdmitAsync(a, keyLimits, tenantLimits, 1, default).Within()).Admitted);
        var third = await quotas.AdmitAsync(b, keyLimits, tenantLimits, 1, default).Within();
        Assert.True(third.Admitted);
        Assert.Equal(3, third.Headers.LimitRequests);
        Assert.Equal(0, third.Headers.RemainingRequests);

        var refused = await quotas.AdmitAsync(b, keyLimits, tenantLimits, 1, default).Within();

        Assert.Equal(QuotaRejection.RateLimit, refused.Kind);
        Assert.Equal("requests per minute limit (3) reached for tenant 'acme'", refused.Message);
        var otherTenant = await quotas.AdmitAsync(Key("cccccccccccccccc", "globex"), keyLimits, tenantLimits, 1, default).Within();
        Assert.True(otherTenant.Admitted);
    }

    [ServerFact]
    public async Task AdmitAsync_TenantRefuses_LeavesNoReservationOnKey()
    {
        var quotas = await ManagerAsync();
        var keyLimits = new Limits(RequestsPerMinute: 1, DailyTokens: 50, ConcurrentRequests: 1);
        var tenantLimits = new Limits(DailyTokens: 10);

        var refused = await quotas.AdmitAsync(Key(), keyLimits, tenantLimits, 20, default).Within();
        Assert.Equal(QuotaLimit.DailyTokens, refused.Limit);
        Assert.Contains("tenant 'acme'", refused.Message);

        var admitted = await quotas.AdmitAsync(Key(), keyLimits, tenantLimits, 10, default).Within();
        Assert.True(admitted.Admitted, admitted.Message);
    }

    [ServerFact]
    public async Task AdmitAsync_NoLimits_AdmittedWithNoOpReservation()
    {
        var quotas = await ManagerAsync();

        var decision = await quotas.AdmitAsync(Key(), Limits.Unlimited, Limits.Unlimited, 1_000_000, default).Within();

        Assert.True(decision.Admitted);
        Assert.Empty(decision.Headers.ToHeaders());
        await decision.Reservation!.CompleteAsync(5).Within();
    }

    [ServerFact]
    public async Task ReleaseAsync_SameReleaseTwice_AdjustsBudgetOnce()
    {
        // A release retried because its reply was lost (the store went away) must not refund twice.
        var store = await CreateStoreAsync();
        var (admit, release) = Reserve("twice", 100, 30);
        Assert.True((await store.TryAdmitAsync(admit, default).Within()).Admitted);

        await store.ReleaseAsync(release, default).Within();
        await store.ReleaseAsync(release, default).Within();

        var usage = (await store.TryAdmitAsync(admit with { ReservationId = "probe", Tokens = 0 }, default).Within()).Usage[0];
        Assert.Equal(30, usage.DayTokens);
        Assert.Equal(30, usage.MonthTokens);
        Assert.Equal(0, usage.Concurrent);
    }

    [ServerFact]
    public async Task ReleaseAsync_OfAdmissionThatNeverRan_ChangesNothing()
    {
        // The undo of an admission whose reply was lost: when the script never ran, nothing may be refunded.
        var store = await CreateStoreAsync();
        var (admit, _) = Reserve("real", 100, 100);
        Assert.True((await store.TryAdmitAsync(admit, default).Within()).Admitted);

        await store.ReleaseAsync(Reserve("ghost", 100, 0).Release, default).Within();

        var usage = (await store.TryAdmitAsync(admit with { ReservationId = "probe", Tokens = 0 }, default).Within()).Usage[0];
        Assert.Equal(100, usage.DayTokens);
        Assert.Equal(1, usage.Concurrent);
    }

    private (QuotaAdmitRequest Admit, QuotaReleaseRequest Release) Reserve(string id, long reserved, long actual)
    {
        var now = Time.GetUtcNow();
        string day = now.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        string month = now.UtcDateTime.ToString("yyyyMM", System.Globalization.CultureInfo.InvariantCulture);
        QuotaScope[] scopes = [new QuotaScope("k:aaaaaaaaaaaaaaaa", "acme", new Limits(ConcurrentRequests: 10, DailyTokens: 1000, MonthlyTokens: 1000))];
        return (new QuotaAdmitRequest(id, now.ToUnixTimeMilliseconds(), reserved, scopes, day, month, 60_000, 900_000),
            new QuotaReleaseRequest(id, scopes, reserved, actual, day, month));
    }
}

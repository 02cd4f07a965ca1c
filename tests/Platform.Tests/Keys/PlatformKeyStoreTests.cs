using Inference.Gateway.Keys;
using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Inference.Platform.Tests.Infrastructure;
using Inference.Scheduler;

namespace Inference.Platform.Tests.Keys;

/// <summary>The gateway's view of keys, plans and budgets, reloaded from a real database.</summary>
public abstract class PlatformKeyStoreTests : DatabaseSuite
{
    private User _owner = null!;
    private Organization _org = null!;

    private PlatformKeyStore Store => Platform.Get<PlatformKeyStore>();

    protected override async Task SetUpAsync()
    {
        _owner = await Platform.Get<AccountService>().SignUpAsync("owner@example.com", "correct horse battery", "Owner");
        _org = await Platform.Get<OrganizationService>().CreateAsync(_owner, "Acme", null, default);
    }

    [DbFact]
    public async Task Find_CreatedThenRevokedOrExpired_FoundOnlyWhileUsable()
    {
        var keys = Platform.Get<KeyService>();
        var (info, secret) = await keys.CreateAsync(_owner, _org.Id, "prod", new Limits(RequestsPerMinute: 7), Platform.Time.GetUtcNow().AddHours(1), null, default);
        Assert.Null(await Store.FindAsync(secret, default)); // not yet reloaded
        Assert.True(await Store.RefreshAsync(default));
        ApiKey key = (await Store.FindAsync(secret, default))!;
        Assert.Equal(info.KeyId, key.KeyId);
        Assert.Equal(_org.Id, key.Tenant);
        Assert.Equal(7, key.Limits!.RequestsPerMinute);
        Assert.Null(await Store.FindAsync(secret + "x", default));

        // Last use reaches the database at the next reload.
        await Store.RefreshAsync(default);
        Assert.NotNull((await keys.GetAsync(_org.Id, info.Id, default)).LastUsedAt);

        Platform.Time.Advance(TimeSpan.FromHours(1));
        Assert.Null(await Store.FindAsync(secret, default)); // expired

        var (_, other) = await keys.CreateAsync(_owner, _org.Id, "other", null, null, null, default);
        await Store.RefreshAsync(default);
        Assert.NotNull(await Store.FindAsync(other, default));
        var second = (await keys.ListAsync(_org.Id, default)).Single(k => k.Name == "other");
        await keys.RevokeAsync(_owner, _org.Id, second.Id, null, default);
        await Store.RefreshAsync(default);
        Assert.Null(await Store.FindAsync(other, default));
        Assert.NotNull((await keys.GetAsync(_org.Id, second.Id, default)).RevokedAt);
    }

    [DbFact]
    public async Task Resolve_PlanChangeAndOverride_ApplyAtTheNextReload()
    {
        var orgs = Platform.Get<OrganizationService>();
        var (_, secret) = await Platform.Get<KeyService>().CreateAsync(_owner, _org.Id, "prod", null, null, null, default);
        await Store.RefreshAsync(default);
        ApiKey key = (await Store.FindAsync(secret, default))!;
        EffectiveLimits free = await Store.ResolveAsync(key, default);
        Assert.Equal(PriorityClass.Batch, free.Priority);
        Assert.Equal(Plans.Free.Limits.RequestsPerMinute, free.Tenant.RequestsPerMinute);
        Assert.Equal(Plans.Free.IncludedTokens, free.Tenant.MonthlyTokens); // no overage on Free: a hard cap
        Assert.True(free.Key.IsUnlimited);

        await orgs.SetPlanAsync(_owner, _org.Id, "premium", null, default);
        Assert.Equal(PriorityClass.Batch, (await Store.ResolveAsync(key, default)).Priority);
        await Store.RefreshAsync(default);
        key = (await Store.FindAsync(secret, default))!;
        EffectiveLimits premium = await Store.ResolveAsync(key, default);
        Assert.Equal(Tier.Premium, key.Tier);
        Assert.Equal(PriorityClass.Interactive, premium.Priority);
        Assert.Equal(Plans.Premium.Limits.TokensPerMinute, premium.Tenant.TokensPerMinute);
        Assert.Null(premium.Tenant.MonthlyTokens); // overage is billed: no cap

        User admin = await Platform.Get<AccountService>().SignUpAsync("admin@example.com", "correct horse battery", "Admin", isAdmin: true);
        await Assert.ThrowsAsync<Inference.Platform.Api.PlatformException>(() => orgs.SetOverridesAsync(_owner, _org.Id, new Limits(RequestsPerMinute: 5), null, default));
        await orgs.SetOverridesAsync(admin, _org.Id, new Limits(RequestsPerMinute: 5, MonthlyTokens: 1_000), null, default);
        await Store.RefreshAsync(default);
        EffectiveLimits overridden = await Store.ResolveAsync(key, default);
        Assert.Equal(5, overridden.Tenant.RequestsPerMinute);
        Assert.Equal(Plans.Premium.Limits.TokensPerMinute, overridden.Tenant.TokensPerMinute);
        Assert.Equal(1_000, overridden.Tenant.MonthlyTokens);
    }

    [DbFact]
    public async Task Resolve_BudgetHardStop_CapsMonthlyTokensAtWhatTheBudgetBuysLessUsageBeforeThisProcess()
    {
        var orgs = Platform.Get<OrganizationService>();
        await orgs.SetPlanAsync(_owner, _org.Id, "basic", null, default); // 30,000 KRW, 5M tokens included, 5 KRW per 1,000 after
        await orgs.SetBudgetAsync(_owner, _org.Id, 31_000, hardStop: true, null, null, default);
        await Platform.Get<UsageLedger>().WriteAsync(new Gateway.Metering.UsageRecord("earlier", "k", _org.Id, "m", 150_000, 50_000, 0, null, null,
            TimeSpan.FromSeconds(1), Gateway.Metering.UsageStatus.Completed, "stop", "chat.completions", false, Platform.Time.GetUtcNow()), default);
        var (_, secret) = await Platform.Get<KeyService>().CreateAsync(_owner, _org.Id, "prod", null, null, null, default);
        await Store.RefreshAsync(default);

        EffectiveLimits limits = await Store.ResolveAsync((await Store.FindAsync(secret, default))!, default);
        // 1,000 KRW over the fee buys 200,000 tokens beyond the 5,000,000 included; 200,000 were used before.
        Assert.Equal(5_000_000 + 200_000 - 200_000, limits.Tenant.MonthlyTokens);

        await orgs.SetBudgetAsync(_owner, _org.Id, 31_000, hardStop: false, null, null, default);
        await Store.RefreshAsync(default);
        Assert.Null((await Store.ResolveAsync((await Store.FindAsync(secret, default))!, default)).Tenant.MonthlyTokens);
    }
}

public sealed class PlatformKeyStoreTestsSqlite : PlatformKeyStoreTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class PlatformKeyStoreTestsPostgres : PlatformKeyStoreTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

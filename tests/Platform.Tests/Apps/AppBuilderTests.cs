using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Apps;
using Inference.Platform.Data;
using Inference.Platform.Organizations;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Apps;

/// <summary>The builder's records on a real database: slugs, drafts, immutable releases, publish races, the app key, access.</summary>
public abstract class AppBuilderTests : DatabaseSuite
{
    private User _owner = null!;
    private string _orgId = "";

    private AppService Apps => Platform.Get<AppService>();

    protected override async Task SetUpAsync()
    {
        _owner = await Platform.Get<AccountService>().SignUpAsync("owner@example.com", "correct horse battery", "Owner");
        _orgId = (await Platform.Get<OrganizationService>().CreateAsync(_owner, "Hanbit School", null, default)).Id;
    }

    [DbFact]
    public async Task CreateFromTemplate_GivesUniqueSlugs_AndADraftFromTheTemplate()
    {
        AppDesign first = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        AppDesign second = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "faq", null, default);
        AppDesign korean = await Apps.CreateFromTemplateAsync(_owner, _orgId, "요약 도우미", "summarizer", null, default);
        Assert.Equal("math-hints", first.Slug);
        Assert.Equal("math-hints-2", second.Slug);
        Assert.Matches("^app-[a-z0-9]{6}$", korean.Slug);
        Assert.Equal(AppTemplates.Find("faq")!.Prompt, second.Draft.Prompt);
        Assert.Equal("Math Hints", first.Draft.Title);
        Assert.Null(first.PublishedVersion);
        Assert.Null(first.PublicKey);
        var bad = await Assert.ThrowsAsync<PlatformException>(() => Apps.CreateFromTemplateAsync(_owner, _orgId, "X", "nope", null, default));
        Assert.Equal("template", bad.Field);
    }

    [DbFact]
    public async Task Releases_AreImmutable_AndRollBackServesAnOlderOne()
    {
        AppDesign app = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        AppRelease v1 = await Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default);
        await Apps.SaveDraftAsync(_orgId, app.App.Id, app.Draft with { Title = "Changed" }, default);
        Assert.Equal("Math Hints", (await Apps.FindHostedAsync(app.Slug, null, default))!.Release.Spec.Title); // a draft is not served
        AppRelease v2 = await Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default);
        Assert.Equal((1, 2), (v1.Version, v2.Version));
        Assert.Equal("Changed", (await Apps.FindHostedAsync(app.Slug, null, default))!.Release.Spec.Title);
        Assert.Equal("Math Hints", (await Apps.ReleaseAsync(app.App.Id, 1, default))!.Spec.Title);

        await Apps.RollBackAsync(_owner, _orgId, app.App.Id, 1, null, default);
        Assert.Equal(1, (await Apps.FindHostedAsync(app.Slug, null, default))!.Release.Version);
        var missing = await Assert.ThrowsAsync<PlatformException>(() => Apps.RollBackAsync(_owner, _orgId, app.App.Id, 7, null, default));
        Assert.Equal("version", missing.Field);

        await Apps.UnpublishAsync(_owner, _orgId, app.App.Id, null, default);
        Assert.Null(await Apps.FindHostedAsync(app.Slug, null, default));
        Assert.Equal([2, 1], (await Apps.ReleasesAsync(_orgId, app.App.Id, default)).Select(r => r.Version));
    }

    [DbFact]
    public async Task ConcurrentPublishes_GetDistinctVersions_AndOneAppKey()
    {
        AppDesign app = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        var keys = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Apps.EnsureKeyAsync(_owner, app, default))));
        Assert.Single(keys.Distinct());
        var releases = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default)))).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(1, 6), releases.Select(r => r.Version).Order());
        AppDesign after = await Apps.DesignAsync(_orgId, app.App.Id, default);
        Assert.Equal(keys[0], after.PublicKey);
        Assert.InRange(after.PublishedVersion!.Value, 1, 6);
    }

    [DbFact]
    public async Task ArchivedApp_IsNotServed_AndCannotBePublished()
    {
        AppDesign app = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        await Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default);
        await Apps.ArchiveAsync(_owner, _orgId, app.App.Id, null, default);
        Assert.Null(await Apps.FindHostedAsync(app.Slug, null, default));
        var ex = await Assert.ThrowsAsync<PlatformException>(() => Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default));
        Assert.Equal("app_archived", ex.Code);
        Assert.Null((await Apps.DesignAsync(_orgId, app.App.Id, default)).PublicKey); // archiving revoked the app key
    }

    [DbFact]
    public async Task SetAccess_NormalizesOrigins_SetsTheKeyLimits_AndRefusesNonOrigins()
    {
        AppDesign app = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        await Apps.PublishAsync(_owner, _orgId, app.App.Id, null, default);
        AppDesign changed = await Apps.SetAccessAsync(_owner, _orgId, app.App.Id, new AppAccess(["https://School.Example/", " http://localhost:8080 "], 5, 1234), null, default);
        Assert.Equal(["https://school.example", "http://localhost:8080"], changed.Access.AllowedOrigins);
        Assert.Equal((5, 1234L), (changed.Access.RequestsPerMinute, changed.Access.MonthlyTokens));

        foreach (string bad in new[] { "https://school.example/page", "school.example", "https://*.example", "ftp://x.example" })
        {
            var ex = await Assert.ThrowsAsync<PlatformException>(() => Apps.SetAccessAsync(_owner, _orgId, app.App.Id, new AppAccess([bad], 5, 1234), null, default));
            Assert.Equal("allowed_origins", ex.Field);
        }

        Assert.Equal("requests_per_minute", (await Assert.ThrowsAsync<PlatformException>(() => Apps.SetAccessAsync(_owner, _orgId, app.App.Id, new AppAccess([], 0, 1234), null, default))).Field);
    }

    [DbFact]
    public async Task AnotherOrganization_CannotSeeOrChangeTheApp()
    {
        AppDesign app = await Apps.CreateFromTemplateAsync(_owner, _orgId, "Math Hints", "tutor", null, default);
        User other = await Platform.Get<AccountService>().SignUpAsync("other@example.com", "correct horse battery", "Other");
        string otherOrg = (await Platform.Get<OrganizationService>().CreateAsync(other, "Other", null, default)).Id;
        Assert.Equal("not_found", (await Assert.ThrowsAsync<PlatformException>(() => Apps.DesignAsync(otherOrg, app.App.Id, default))).Code);
        Assert.Equal("not_found", (await Assert.ThrowsAsync<PlatformException>(() => Apps.PublishAsync(other, otherOrg, app.App.Id, null, default))).Code);
        Assert.Empty(await Apps.DesignsAsync(otherOrg, default));
    }
}

public sealed class AppBuilderTestsSqlite : AppBuilderTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class AppBuilderTestsPostgres : AppBuilderTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

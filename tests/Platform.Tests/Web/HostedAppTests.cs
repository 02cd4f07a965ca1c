using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Inference.Platform.Accounts;
using Inference.Platform.Apps;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Keys;
using Inference.Platform.Tests.Infrastructure;
using Inference.Platform.Web;

namespace Inference.Platform.Tests.Web;

/// <summary>Published apps over HTTP: the run endpoint, what an app key may and may not do, origins, versions, export.</summary>
public sealed class HostedAppTests
{
    [Fact]
    public async Task AppKey_IsRefusedByTheOpenAIAndManagementApis()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, _, design) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");

        foreach ((HttpMethod method, string path, object? body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, "/v1/models", null),
            (HttpMethod.Get, "/v1/models/brown-llama-5m", null),
            (HttpMethod.Post, "/v1/chat/completions", new { model = "brown-llama-5m", messages = new[] { new { role = "user", content = "hi" } } }),
            (HttpMethod.Post, "/v1/completions", new { model = "brown-llama-5m", prompt = "hi" }),
            (HttpMethod.Post, "/tokenize", new { model = "brown-llama-5m", prompt = "hi" }),
        })
        {
            var (status, error) = await stack.SendAsync(method, path, body, design.PublicKey);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("app_key_scope", error.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await stack.SendAsync(HttpMethod.Get, "/api/me", null, design.PublicKey)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await stack.SendAsync(HttpMethod.Get, $"/api/orgs/{design.App.OrgId}/keys", null, design.PublicKey)).Status);
    }

    [Fact]
    public async Task Run_StreamsTheAnswer_AndIsMeteredToTheApp()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, _, design) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");

        using HttpResponseMessage response = await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("What is 7 times 8?"), stream: true);
        string sse = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("chat.completion.chunk", sse);
        Assert.EndsWith("data: [DONE]\n\n", sse);
        Assert.Empty(response.Content.Headers.ContentLanguage); // an API, not a page: the same answer in every language

        using HttpResponseMessage whole = await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("And 6 times 9?"));
        JsonElement completion = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("chat.completion", completion.GetProperty("object").GetString());
        Assert.True(completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 20); // the system prompt and example came along

        UsageLedger ledger = stack.Host.Services.Get<UsageLedger>();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var days = await ledger.DailyAsync(design.App.OrgId, now.AddDays(-1), now.AddDays(1), default, design.App.Id);
        Assert.Equal(2, days.Sum(d => d.Requests));
    }

    [Fact]
    public async Task Run_FromAnOriginNotAllowed_IsRefused_AndAnAllowedOneGetsCors()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (user, _, design) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");
        AppService apps = stack.Host.Services.Get<AppService>();
        await apps.SetAccessAsync(user, design.App.OrgId, design.App.Id, new AppAccess(["https://school.example/"], 30, 100_000), null, default);

        using (HttpResponseMessage evil = await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("q"), origin: "https://evil.example"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, evil.StatusCode);
            Assert.Contains("origin_not_allowed", await evil.Content.ReadAsStringAsync());
            Assert.False(evil.Headers.Contains("Access-Control-Allow-Origin"));
        }

        using (var preflight = new HttpRequestMessage(HttpMethod.Options, $"/apps/{design.Slug}/api/run"))
        {
            preflight.Headers.Add("Origin", "https://school.example");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            using HttpResponseMessage ok = await stack.Http.SendAsync(preflight).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
            Assert.Equal("https://school.example", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("authorization", ok.Headers.GetValues("Access-Control-Allow-Headers").Single());
        }

        using (var preflight = new HttpRequestMessage(HttpMethod.Options, $"/apps/{design.Slug}/api/run"))
        {
            preflight.Headers.Add("Origin", "https://evil.example");
            using HttpResponseMessage refused = await stack.Http.SendAsync(preflight).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using HttpResponseMessage allowed = await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("q"), origin: "https://school.example");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("https://school.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(HttpStatusCode.OK, (await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("q"), origin: stack.Host.HttpAddress.ToString().TrimEnd('/'))).StatusCode);
    }

    [Fact]
    public async Task AppKey_HasItsOwnRateLimit()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (user, token, design) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");
        await stack.Host.Services.Get<AppService>().SetAccessAsync(user, design.App.OrgId, design.App.Id, new AppAccess([], 1, 100_000), null, default);
        await stack.Host.Services.Get<PlatformKeyStore>().RefreshAsync(default);

        Assert.Equal(HttpStatusCode.OK, (await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("q"))).StatusCode);
        using HttpResponseMessage limited = await RunAsync(stack, design.Slug, design.PublicKey!, Tutor("q"));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter is not null);
        // The organization's own keys are not limited by the app's rate.
        var (_, secret) = await stack.CreateKeyAsync(token, design.App.OrgId);
        Assert.Equal(HttpStatusCode.OK, (await stack.ChatAsync(secret)).Status);
    }

    [Fact]
    public async Task AppKey_CannotRunAnotherApp_AndAnotherOrganizationsKeyCannotRunThisOne()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, token, first) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");
        var (_, otherToken, second) = await PublishedAppAsync(stack, "other@example.com", "Shop FAQ");

        using HttpResponseMessage crossApp = await RunAsync(stack, second.Slug, first.PublicKey!, Tutor("q"));
        Assert.Equal(HttpStatusCode.Forbidden, crossApp.StatusCode);
        Assert.Contains("app_key_scope", await crossApp.Content.ReadAsStringAsync());

        var (_, otherSecret) = await stack.CreateKeyAsync(otherToken, second.App.OrgId);
        using HttpResponseMessage crossOrg = await RunAsync(stack, first.Slug, otherSecret, Tutor("q"));
        Assert.Equal(HttpStatusCode.Forbidden, crossOrg.StatusCode);

        var (_, ownSecret) = await stack.CreateKeyAsync(token, first.App.OrgId);
        Assert.Equal(HttpStatusCode.OK, (await RunAsync(stack, first.Slug, ownSecret, Tutor("q"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RunAsync(stack, first.Slug, "app-not-a-key", Tutor("q"))).StatusCode);
    }

    [Fact]
    public async Task Run_BadInputs_AreRefusedByName_AndVersionsAreImmutable()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (user, _, design) = await PublishedAppAsync(stack, "owner@example.com", "Math Hints");
        string key = design.PublicKey!;

        await AssertInvalidAsync(RunRawAsync(stack, design.Slug, key, """{"inputs":{"subject":"math","level":"college","question":"q"}}"""), "inputs.level");
        await AssertInvalidAsync(RunRawAsync(stack, design.Slug, key, """{"inputs":{"subject":"math","level":"high school"}}"""), "inputs.question");
        await AssertInvalidAsync(RunRawAsync(stack, design.Slug, key, """{"inputs":{},"temperature":2}"""), "temperature");
        await AssertInvalidAsync(RunRawAsync(stack, design.Slug, key, """{"inputs":{"subject":3}}"""), "inputs.subject");

        // v2 changes the form; v1 still runs when pinned, and rolling back serves it again.
        AppService apps = stack.Host.Services.Get<AppService>();
        AppSpec v2 = design.Draft with { Title = "Hints v2", Prompt = "{{question}}", Fields = [design.Draft.Fields[2]], SystemPrompt = "Give a hint." };
        await apps.SaveDraftAsync(design.App.OrgId, design.App.Id, v2, default);
        Assert.Equal(2, (await apps.PublishAsync(user, design.App.OrgId, design.App.Id, null, default)).Version);
        await AssertInvalidAsync(RunAsync(stack, design.Slug, key, Tutor("q")), "inputs.subject");
        Assert.Equal(HttpStatusCode.OK, (await RunRawAsync(stack, design.Slug, key, """{"inputs":{"question":"q"}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RunRawAsync(stack, design.Slug, key, JsonSerializer.Serialize(new { inputs = Tutor("q"), version = 1 }))).StatusCode);
        await AssertInvalidAsync(RunRawAsync(stack, design.Slug, key, """{"inputs":{},"version":9}"""), "version");
        AppRelease first = (await apps.ReleaseAsync(design.App.Id, 1, default))!;
        Assert.Equal("Math Hints", first.Spec.Title);

        await apps.RollBackAsync(user, design.App.OrgId, design.App.Id, 1, null, default);
        Assert.Equal(HttpStatusCode.OK, (await RunAsync(stack, design.Slug, key, Tutor("q"))).StatusCode);
        await apps.UnpublishAsync(user, design.App.OrgId, design.App.Id, null, default);
        Assert.Equal(HttpStatusCode.NotFound, (await RunAsync(stack, design.Slug, key, Tutor("q"))).StatusCode);
    }

    [Fact]
    public async Task Export_IsAStaticSite_PinnedToItsRelease_WithEscapedText()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, _, design) = await PublishedAppAsync(stack, "owner@example.com", "<script>alert(1)</script>");
        AppRelease release = (await stack.Host.Services.Get<AppService>().ReleaseAsync(design.App.Id, 1, default))!;
        byte[] zip = StaticExport.Build(design.Slug, release, design.PublicKey!, "https://api.example.com/");
        using var archive = new ZipArchive(new MemoryStream(zip));
        Assert.Equal(["index.html", "site.css", "stream.js", "hosted.js", "README.txt"], archive.Entries.Select(e => e.FullName));
        string html = new StreamReader(archive.GetEntry("index.html")!.Open()).ReadToEnd();
        Assert.Contains($"data-run-url=\"https://api.example.com/apps/{design.Slug}/api/run\"", html);
        Assert.Contains($"data-key=\"{design.PublicKey}\"", html);
        Assert.Contains("data-version=\"1\"", html);
        Assert.Contains("connect-src https://api.example.com;", html);
        Assert.DoesNotContain("<script>alert(1)", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html);
    }

    [Fact]
    public async Task ManagementApi_BuildsPublishesRollsBackAndExports()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, token) = await stack.SignUpAsync("api@example.com");
        string orgId = await stack.CreateOrgAsync(token, "API School");
        var (templates, list) = await stack.GetAsync("/api/app-templates", token);
        Assert.Equal(HttpStatusCode.OK, templates);
        Assert.Equal("long_text", list.GetProperty("data")[0].GetProperty("fields")[2].GetProperty("kind").GetString());

        var (created, app) = await stack.PostAsync($"/api/orgs/{orgId}/apps/from-template", new { name = "FAQ Desk", template = "faq" }, token);
        Assert.Equal(HttpStatusCode.Created, created);
        string appId = app.GetProperty("id").GetString()!;
        Assert.Equal("/apps/faq-desk", app.GetProperty("url").GetString());

        var (bad, problem) = await stack.SendAsync(HttpMethod.Put, $"/api/orgs/{orgId}/apps/{appId}/draft",
            new { title = "FAQ", prompt = "{{question}} {{missing}}", fields = new[] { new { name = "question", label = "Q", kind = "text" } } }, token);
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("prompt", problem.GetProperty("field").GetString());
        var (saved, design) = await stack.SendAsync(HttpMethod.Put, $"/api/orgs/{orgId}/apps/{appId}/draft",
            new { title = "FAQ", prompt = "{{question}}", temperature = 0.2, fields = new[] { new { name = "question", label = "Q", kind = "text", required = true } } }, token);
        Assert.Equal(HttpStatusCode.OK, saved);
        Assert.Equal(0.2, design.GetProperty("draft").GetProperty("temperature").GetDouble());

        var (published, release) = await stack.PostAsync($"/api/orgs/{orgId}/apps/{appId}/releases", new { }, token);
        Assert.Equal(HttpStatusCode.Created, published);
        Assert.Equal(1, release.GetProperty("version").GetInt32());
        await stack.PostAsync($"/api/orgs/{orgId}/apps/{appId}/releases", new { }, token);
        var (_, withKey) = await stack.GetAsync($"/api/orgs/{orgId}/apps/{appId}/design", token);
        string appKey = withKey.GetProperty("app_key").GetString()!;
        Assert.StartsWith("app-", appKey);
        Assert.Equal(2, withKey.GetProperty("published_version").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await RunRawAsync(stack, "faq-desk", appKey, """{"inputs":{"question":"When do you open?"}}""")).StatusCode);

        var (rolled, back) = await stack.SendAsync(HttpMethod.Put, $"/api/orgs/{orgId}/apps/{appId}/published", new { version = 1 }, token);
        Assert.Equal(HttpStatusCode.OK, rolled);
        Assert.Equal(1, back.GetProperty("published_version").GetInt32());
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/orgs/{orgId}/apps/{appId}/releases/1/export"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using HttpResponseMessage zip = await stack.Http.SendAsync(request);
            Assert.Equal("application/zip", zip.Content.Headers.ContentType?.MediaType);
            using var archive = new ZipArchive(await zip.Content.ReadAsStreamAsync());
            Assert.NotNull(archive.GetEntry("index.html"));
        }

        Assert.Equal(HttpStatusCode.NoContent, (await stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{orgId}/apps/{appId}/published", null, token)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await RunRawAsync(stack, "faq-desk", appKey, """{"inputs":{"question":"q"}}""")).StatusCode);
        var (_, releases) = await stack.GetAsync($"/api/orgs/{orgId}/apps/{appId}/releases", token);
        Assert.Equal(2, releases.GetProperty("data").GetArrayLength());
    }

    internal static Dictionary<string, string> Tutor(string question) => new() { ["subject"] = "math", ["level"] = "middle school", ["question"] = question };

    /// <summary>A user with an organization and a published tutor app named <paramref name="name"/>.</summary>
    internal static async Task<(User User, string Token, AppDesign Design)> PublishedAppAsync(PlatformStack stack, string email, string name)
    {
        var (userId, token) = await stack.SignUpAsync(email);
        string orgId = await stack.CreateOrgAsync(token, email.Split('@')[0] + " org");
        User user = (await stack.Host.Services.Get<AccountService>().FindAsync(userId, default))!;
        AppService apps = stack.Host.Services.Get<AppService>();
        AppDesign design = await apps.CreateFromTemplateAsync(user, orgId, name, "tutor", null, default);
        await apps.PublishAsync(user, orgId, design.App.Id, null, default);
        await stack.Host.Services.Get<PlatformKeyStore>().RefreshAsync(default);
        return (user, token, await apps.DesignAsync(orgId, design.App.Id, default));
    }

    private static Task<HttpResponseMessage> RunAsync(PlatformStack stack, string slug, string key, Dictionary<string, string> inputs, bool stream = false, string? origin = null) =>
        RunRawAsync(stack, slug, key, JsonSerializer.Serialize(new { inputs, stream }), origin);

    private static async Task<HttpResponseMessage> RunRawAsync(PlatformStack stack, string slug, string key, string body, string? origin = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/apps/{slug}/api/run") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return await stack.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));
    }

    private static async Task AssertInvalidAsync(Task<HttpResponseMessage> send, string param)
    {
        using HttpResponseMessage response = await send;
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal(param, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}

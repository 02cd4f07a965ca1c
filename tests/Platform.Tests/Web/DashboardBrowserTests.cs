using System.Net;
using System.Text.RegularExpressions;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;
using Inference.Platform.Web;
using Microsoft.Playwright;

namespace Inference.Platform.Tests.Web;

/// <summary>
/// The dashboard and a hosted app in a real browser (Debian's Chromium through Playwright) against the whole stack on
/// the bundled model: the flow the README promises a new user, plus escaping, CSP and the no-JavaScript fallbacks.
/// </summary>
public sealed class DashboardBrowserTests(Browser browser) : IClassFixture<Browser>
{
    private const string Password = "correct horse battery";

    [BrowserFact]
    public async Task NewUser_BuildsPublishesRollsBackAndUnpublishesAnApp_ThroughThePages()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        await using IBrowserContext owner = await browser.NewContextAsync();
        IPage page = await owner.NewPageAsync();
        var htmlWithoutCsp = new List<string>();
        page.Response += (_, r) => CheckCsp(r, htmlWithoutCsp);
        await Browser.RunAsync(() => page, "flow", async () =>
        {

            // Sign up: lands on the dashboard with an organization of its own.
            await page.GotoAsync(site + "/signup");
            await page.GetByLabel("Your name").FillAsync("Kim Teacher");
            await page.GetByLabel("Email").FillAsync("kim@example.com");
            await page.GetByLabel("Password").FillAsync(Password);
            await page.GetByLabel("Organization (school, shop, team)").FillAsync("Hanbit School");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
            await Browser.AtUrlAsync(page, site + "/dashboard");
            Assert.Contains("Hanbit School", await page.Locator("header").InnerTextAsync());
            await Browser.ScreenshotAsync(page, "dashboard");

            // A key, shown once.
            await page.GotoAsync(site + "/dashboard/keys");
            await page.GetByLabel("Key name").FillAsync("school site");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
            string secret = await page.GetByTestId("new-key").InnerTextAsync();
            Assert.StartsWith("sk-", secret);
            Assert.Equal(HttpStatusCode.OK, (await stack.ChatAsync(secret)).Status);
            await page.GotoAsync(site + "/dashboard/keys");
            Assert.Equal(0, await page.GetByTestId("new-key").CountAsync());
            Assert.Contains("school site", await page.Locator("table").InnerTextAsync());
            await Browser.ScreenshotAsync(page, "keys");

            // An app from the tutor template; the preview streams an answer through the gateway.
            await page.GotoAsync(site + "/dashboard/apps");
            await page.GetByLabel("App name").FillAsync("Math Hints");
            await page.GetByLabel("Homework tutor", new() { Exact = false }).CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Create app" }).ClickAsync();
            await Browser.AtUrlAsync(page, new Regex("/dashboard/apps/app_"));
            string builderUrl = page.Url;
            Assert.Contains("hint", await page.GetByLabel("System prompt").InputValueAsync());
            await FillTutorAsync(page, "What is 7 times 8?");
            await page.Locator("#preview-button").ClickAsync();
            await page.Locator("[data-testid=preview-output][data-done=true]").WaitForAsync();
            Assert.False(string.IsNullOrWhiteSpace(await page.GetByTestId("preview-output").InnerTextAsync()));
            await Browser.ScreenshotAsync(page, "builder");

            // Publish: v1 at /apps/{slug}.
            await page.Locator("#publish-button").ClickAsync();
            await page.GetByText("Published version 1.").WaitForAsync();
            Assert.Equal("published v1", await page.GetByTestId("published-version").InnerTextAsync());
            string slug = Regex.Match(await page.Locator("p.meta code").First.InnerTextAsync(), "/apps/(.+)").Groups[1].Value;
            Assert.Equal("math-hints", slug);

            // A student opens the link in a browser of their own and gets a streamed answer.
            await using (IBrowserContext student = await browser.NewContextAsync(phone: true))
            {
                IPage hosted = await student.NewPageAsync();
                hosted.Response += (_, r) => CheckCsp(r, htmlWithoutCsp);
                await hosted.GotoAsync($"{site}/apps/{slug}");
                Assert.Equal("Math Hints", await hosted.Locator("h1").InnerTextAsync());
                await FillTutorAsync(hosted, "How do I add fractions?");
                await hosted.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
                await hosted.Locator("[data-testid=answer][data-done=true]").WaitForAsync();
                Assert.False(string.IsNullOrWhiteSpace(await hosted.GetByTestId("answer").InnerTextAsync()));
                await Browser.ScreenshotAsync(hosted, "hosted-app-phone");
            }

            // Usage counts the preview and the hosted run, for the app and for the organization; the charts draw.
            string appId = builderUrl[(builderUrl.LastIndexOf('/') + 1)..];
            await WaitForCountAsync(page, $"{site}/dashboard/usage?app={appId}", 2);
            Assert.Equal("true", await page.Locator("canvas[data-chart=chart-tokens]").GetAttributeAsync("data-drawn"));
            Assert.True(long.Parse(await page.GetByTestId("app-month-tokens").InnerTextAsync(), System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture) > 20);
            await WaitForCountAsync(page, $"{site}/dashboard/usage", 3); // the key's chat as well
            await Browser.ScreenshotAsync(page, "usage");

            // v2 with another prompt, then back to v1.
            await page.GotoAsync(builderUrl);
            await page.GetByLabel("Title").FillAsync("Math Hints 2");
            await page.Locator("#publish-button").ClickAsync();
            await page.GetByText("Published version 2.").WaitForAsync();
            Assert.Equal("Math Hints 2", await TitleOfHostedAsync(stack, slug));
            await page.GetByRole(AriaRole.Button, new() { Name = "Serve version 1" }).ClickAsync();
            await page.GetByText("Now serving version 1.").WaitForAsync();
            Assert.Equal("published v1", await page.GetByTestId("published-version").InnerTextAsync());
            Assert.Equal("Math Hints", await TitleOfHostedAsync(stack, slug));

            // Unpublished: the page and its run endpoint are gone.
            await page.Locator("#unpublish-button").ClickAsync();
            await page.GetByText("The app is no longer published.").WaitForAsync();
            IResponse? gone = await page.GotoAsync($"{site}/apps/{slug}");
            Assert.Equal(404, gone!.Status);
            Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.PostAsync($"/apps/{slug}/api/run", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"))).StatusCode);

            // Operator pages are for platform admins only.
            Assert.Equal(403, (await page.GotoAsync(site + "/dashboard/operator"))!.Status);

            // The playground streams too.
            await page.GotoAsync(site + "/dashboard/playground");
            await page.GetByLabel("Message").FillAsync("Tell me about the sea.");
            await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
            await page.Locator("#transcript li.assistant[data-done=true]").WaitForAsync();
            await Browser.ScreenshotAsync(page, "playground");

            Assert.Empty(htmlWithoutCsp);
            Assert.Empty(stack.Logs.Errors);
        });
    }

    [BrowserFact]
    public async Task HostileNames_RenderAsText_OnEveryPage_AndNoScriptRuns()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        await using IBrowserContext context = await browser.NewContextAsync();
        IPage page = await context.NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, d) => { dialogs.Add(d.Message); await d.DismissAsync(); };
        var htmlWithoutCsp = new List<string>();
        page.Response += (_, r) => CheckCsp(r, htmlWithoutCsp);
        const string Name = "<script>alert(1)</script>";
        const string Html = "<img src=x onerror=alert(2)><b>bold</b>";

        await SignUpAsync(page, site, "xss@example.com", Name);
        await page.GotoAsync(site + "/dashboard/apps");
        await page.GetByLabel("App name").FillAsync(Name);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create app" }).ClickAsync();
        await Browser.AtUrlAsync(page, new Regex("/dashboard/apps/app_"));
        await page.GetByLabel("Description").FillAsync(Html);
        await page.GetByLabel("System prompt").FillAsync("Answer. " + Html);
        await page.Locator("#f0l").FillAsync(Html);
        await page.Locator("#publish-button").ClickAsync();
        await page.GetByText("Published version 1.").WaitForAsync();
        string slug = Regex.Match(await page.Locator("p.meta code").First.InnerTextAsync(), "/apps/(.+)").Groups[1].Value;

        foreach (string path in new[] { "/dashboard", "/dashboard/apps", page.Url[site.Length..], "/dashboard/organization", "/dashboard/usage", $"/apps/{slug}" })
        {
            await page.GotoAsync(site + path);
            string text = await page.Locator("body").InnerTextAsync();
            Assert.True(text.Contains(Name, StringComparison.Ordinal) || path == "/dashboard/usage" && text.Contains("App: ", StringComparison.Ordinal), $"{path} does not show the name as text");
            Assert.Equal(0, await page.Locator("main script:not([type=\"application/json\"]), main img, main b").CountAsync());
        }

        await page.GotoAsync($"{site}/apps/{slug}");
        Assert.Contains(Html, await page.Locator("main").InnerTextAsync());
        Assert.Empty(dialogs);
        Assert.Empty(htmlWithoutCsp);
    }

    [BrowserFact]
    public async Task Pages_WorkWithoutJavaScript_AndSpeakKorean()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        IBrowserContext context = await browser.Instance.NewContextAsync(new BrowserNewContextOptions
        {
            JavaScriptEnabled = false, Locale = "ko-KR", ExtraHTTPHeaders = new Dictionary<string, string> { ["Accept-Language"] = "ko-KR,ko;q=0.9,en;q=0.5" },
        });
        await using (context)
        {
            IPage page = await context.NewPageAsync();
            await page.GotoAsync(site + "/signup");
            Assert.Equal("ko", await page.Locator("html").GetAttributeAsync("lang"));
            await page.Locator("#name").FillAsync("김선생");
            await page.Locator("#email").FillAsync("kim.ko@example.com");
            await page.Locator("#password").FillAsync(Password);
            await page.Locator("#organization").FillAsync("한빛학교");
            await page.Locator("form button[type=submit]").ClickAsync();
            await Browser.AtUrlAsync(page, site + "/dashboard");
            await Browser.ScreenshotAsync(page, "dashboard-ko");

            // The builder's preview posts the form and shows the whole answer (no streaming without JavaScript).
            await page.GotoAsync(site + "/dashboard/apps");
            await page.Locator("#app-name").FillAsync("요약 도우미");
            await page.Locator("#tpl-summarizer").CheckAsync();
            await page.Locator("form button.primary").ClickAsync();
            await Browser.AtUrlAsync(page, new Regex("/dashboard/apps/app_"));
            await page.Locator("#in-text").FillAsync("The jury said that the election was fair. The city was quiet.");
            await page.Locator("#preview-button").ClickAsync();
            Assert.False(string.IsNullOrWhiteSpace(await page.GetByTestId("preview-output").InnerTextAsync()));
            await page.Locator("#publish-button").ClickAsync();
            string slug = Regex.Match(await page.Locator("p.meta code").First.InnerTextAsync(), "/apps/(.+)").Groups[1].Value;
            Assert.StartsWith("app-", slug); // a Korean name has no ASCII letters for a slug

            await page.GotoAsync($"{site}/apps/{slug}");
            await page.Locator("#in-text").FillAsync("The sea was calm. The boats came home.");
            await page.Locator("#app-form button").ClickAsync();
            Assert.False(string.IsNullOrWhiteSpace(await page.GetByTestId("answer").InnerTextAsync()));

            foreach (string path in new[] { "/dashboard", "/dashboard/apps", "/dashboard/keys", "/dashboard/usage", "/dashboard/organization", "/dashboard/billing", "/dashboard/security", "/dashboard/playground" })
            {
                IResponse? response = await page.GotoAsync(site + path);
                Assert.Equal(200, response!.Status);
                Assert.Equal("ko", await page.Locator("html").GetAttributeAsync("lang"));
            }
        }

        Assert.Empty(UiText.Missing);
        Assert.Empty(stack.Logs.Errors);
    }

    [BrowserFact]
    public async Task Admin_TurnsOnTwoFactor_SignsInWithASecondFactor_AndSeesTheOperatorPage()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        var (created, _) = await stack.PostAsync("/api/admin/bootstrap", new { token = stack.Host.BootstrapToken, email = "root@example.com", password = Password });
        Assert.Equal(HttpStatusCode.Created, created);
        await using IBrowserContext context = await browser.NewContextAsync();
        IPage page = await context.NewPageAsync();

        await page.GotoAsync(site + "/dashboard/security");
        await Browser.AtUrlAsync(page, new Regex("/signin\\?returnUrl="));
        await page.GetByLabel("Email").FillAsync("root@example.com");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Browser.AtUrlAsync(page, site + "/dashboard/security");

        await page.GetByRole(AriaRole.Button, new() { Name = "Set up two-factor authentication" }).ClickAsync();
        string secret = await page.GetByTestId("totp-secret").InnerTextAsync();
        await page.GetByLabel("Code").FillAsync(new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp());
        await page.GetByRole(AriaRole.Button, new() { Name = "Turn on" }).ClickAsync();
        var codes = await page.GetByTestId("recovery-codes").Locator("code").AllInnerTextsAsync();
        Assert.NotEmpty(codes);

        // Signing in again asks for the second factor; a wrong one is refused, a recovery code lets the admin in.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Browser.AtUrlAsync(page, site + "/signin");
        await page.GetByLabel("Email").FillAsync("root@example.com");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByLabel("Two-factor code").WaitForAsync();
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByLabel("Two-factor code").FillAsync("000000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Alert).WaitForAsync();
        Assert.EndsWith("/signin", page.Url);
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByLabel("Two-factor code").FillAsync(codes[0]);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Browser.AtUrlAsync(page, site + "/dashboard");

        await page.GotoAsync(site + "/dashboard/operator");
        Assert.Contains("brown-llama-5m", await page.Locator("table").InnerTextAsync());
        Assert.Equal("true", await page.Locator("canvas[data-chart=chart-kv]").GetAttributeAsync("data-drawn"));
        await Browser.ScreenshotAsync(page, "operator");
        await page.GotoAsync(site + "/dashboard/security");
        await Browser.ScreenshotAsync(page, "security");
    }

    [BrowserFact]
    public async Task Owner_InvitesAMember_WhoAcceptsFromTheMailedLink_AndGetsTheRole()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        await using IBrowserContext owner = await browser.NewContextAsync();
        IPage page = await owner.NewPageAsync();
        IPage current = page;
        await Browser.RunAsync(() => current, "invite", async () =>
        {
            await SignUpAsync(page, site, "head@example.com", "Head Teacher");
            await page.GotoAsync(site + "/dashboard/organization");
            await page.GetByLabel("Email").FillAsync("lee@example.com");
            await page.GetByLabel("Role", new() { Exact = true }).SelectOptionAsync("viewer");
            await page.GetByRole(AriaRole.Button, new() { Name = "Send invitation" }).ClickAsync();
            await page.GetByText("Invitation sent to lee@example.com.").WaitForAsync();
            Assert.Contains("lee@example.com", await page.Locator("main ul").Last.InnerTextAsync());

            string mailDir = Path.Combine(stack.Host.Services.Options.DataDir, "mail");
            string mail = File.ReadAllText(Directory.GetFiles(mailDir, "*.eml").Single(f => f.Contains("lee@example.com", StringComparison.Ordinal)));
            string link = Regex.Match(mail, @"https?://\S+/invitations/accept\?token=[A-Za-z0-9_-]+").Value;
            Assert.NotEmpty(link);

            // The invitee follows the link: sign-up first, then back to the invitation, accept, and the organization is theirs to view.
            await using IBrowserContext invitee = await browser.NewContextAsync();
            IPage other = await invitee.NewPageAsync();
            current = other;
            await SignUpAsync(other, site, "lee@example.com", "Lee");
            await other.GotoAsync(site + new Uri(link).PathAndQuery);
            await other.GetByRole(AriaRole.Button, new() { Name = "Accept invitation" }).ClickAsync();
            await other.GetByText("You joined Head Teacher.").WaitForAsync();
            await other.GotoAsync(site + "/dashboard/organization");
            string members = await other.Locator("table").InnerTextAsync();
            Assert.Contains("head@example.com", members);
            Assert.Contains("lee@example.com", members);
            Assert.Equal(0, await other.GetByRole(AriaRole.Button, new() { Name = "Send invitation" }).CountAsync()); // a viewer cannot invite

            // The owner changes the new member's role.
            current = page;
            await page.GotoAsync(site + "/dashboard/organization");
            await page.GetByLabel("Role of Lee").SelectOptionAsync("developer");
            await page.Locator("form", new() { Has = page.GetByLabel("Role of Lee") }).GetByRole(AriaRole.Button, new() { Name = "Change role" }).ClickAsync();
            await page.GetByText("Role changed.").WaitForAsync();
            Assert.Equal("developer", await page.GetByLabel("Role of Lee").InputValueAsync());

            // Billing: the owner picks a plan and sets a budget with a hard stop.
            await page.GotoAsync(site + "/dashboard/billing");
            await page.Locator("#plan").SelectOptionAsync("basic");
            await page.GetByRole(AriaRole.Button, new() { Name = "Change plan" }).ClickAsync();
            await page.GetByText("Plan changed to Basic.").WaitForAsync();
            await page.GetByLabel("Budget in KRW (empty for none)").FillAsync("50000");
            await page.GetByLabel("Stop serving when the budget is used up").CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Save budget" }).ClickAsync();
            await page.GetByText("Budget saved.").WaitForAsync();
            var orgs = await stack.Host.Services.Get<Organizations.OrganizationService>().ListAllAsync(default);
            Organizations.Organization org = orgs.Single(o => o.Name == "Head Teacher");
            Assert.Equal(("basic", 50_000L, true), (org.Plan, org.BudgetKrw, org.BudgetHardStop));
            await Browser.ScreenshotAsync(page, "billing");
        });
    }

    private static async Task SignUpAsync(IPage page, string site, string email, string name)
    {
        await page.GotoAsync(site + "/signup");
        await page.Locator("#name").FillAsync(name);
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#password").FillAsync(Password);
        await page.Locator("#organization").FillAsync(name);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Browser.AtUrlAsync(page, site + "/dashboard");
    }

    private static async Task FillTutorAsync(IPage page, string question)
    {
        await page.Locator("#in-subject").FillAsync("math");
        await page.Locator("#in-level").SelectOptionAsync("middle school");
        await page.Locator("#in-question").FillAsync(question);
    }

    private static async Task WaitForCountAsync(IPage page, string url, int atLeast)
    {
        // The ledger writes a request's record as it ends; the page reads the database.
        for (int attempt = 0; ; attempt++)
        {
            await page.GotoAsync(url);
            long count = long.Parse(await page.GetByTestId("requests-30d").InnerTextAsync(), System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture);
            if (count >= atLeast)
            {
                return;
            }

            Assert.True(attempt < 50, $"{url} counts {count} requests, expected at least {atLeast}");
            await Task.Delay(100);
        }
    }

    private static async Task<string> TitleOfHostedAsync(PlatformStack stack, string slug)
    {
        string html = await stack.Http.GetStringAsync($"/apps/{slug}").WaitAsync(TimeSpan.FromSeconds(30));
        return WebUtility.HtmlDecode(Regex.Match(html, "<h1>(.*?)</h1>").Groups[1].Value);
    }

    private static void CheckCsp(IResponse response, List<string> missing)
    {
        if (response.Headers.TryGetValue("content-type", out string? type) && type.StartsWith("text/html", StringComparison.Ordinal)
            && (!response.Headers.TryGetValue("content-security-policy", out string? csp) || csp != WebSetup.ContentSecurityPolicy))
        {
            lock (missing)
            {
                missing.Add(response.Url);
            }
        }
    }
}

using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Inference.Platform.Data;
using Inference.Platform.Keys;
using Inference.Platform.Tests.Infrastructure;
using Inference.Platform.Web;

namespace Inference.Platform.Tests.Web;

/// <summary>The dashboard's pages over plain HTTP: headers on every HTML response, CSRF on every form, sign-in redirects, language.</summary>
public sealed partial class WebPagesTests
{
    private static readonly string[] DashboardPages =
    [
        "/dashboard", "/dashboard/apps", "/dashboard/keys", "/dashboard/usage", "/dashboard/organization", "/dashboard/billing",
        "/dashboard/security", "/dashboard/playground", "/dashboard/operator",
    ];

    [GeneratedRegex("<form[^>]*method=\"post\"[^>]*>(.*?)</form>", RegexOptions.Singleline)]
    private static partial Regex PostForm();

    [Fact]
    public async Task PublicPages_AreHtml_WithTheStrictPolicy()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        foreach (string path in new[] { "/signin", "/signup", "/apps/nothing-here" })
        {
            using HttpResponseMessage response = await stack.Http.GetAsync(path).WaitAsync(TimeSpan.FromSeconds(30));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == (path.StartsWith("/apps", StringComparison.Ordinal) ? HttpStatusCode.NotFound : HttpStatusCode.OK), $"{path}: {(int)response.StatusCode}");
            AssertHtmlHeaders(response, path);
            if (!path.StartsWith("/apps", StringComparison.Ordinal))
            {
                Assert.Contains("__RequestVerificationToken", body);
            }
        }
    }

    [Fact]
    public async Task SignedOut_DashboardRedirectsToSignIn_AndSignInNeverRedirectsOffSite()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        using var client = NewClient(stack, out _);
        using HttpResponseMessage redirect = await client.GetAsync("/dashboard/keys?x=1").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/signin?returnUrl=%2Fdashboard%2Fkeys%3Fx%3D1", redirect.Headers.Location?.OriginalString);

        await stack.SignUpAsync("kim@example.com");
        foreach (string target in new[] { "//evil.example/x", "https://evil.example/", "/\\evil.example" })
        {
            string token = await FormTokenAsync(client, "/signin");
            using HttpResponseMessage signedIn = await client.PostAsync("/signin", Form(("email", "kim@example.com"), ("password", "correct horse battery"), ("returnUrl", target), ("__RequestVerificationToken", token)));
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
            Assert.Equal("/dashboard", signedIn.Headers.Location?.OriginalString);
        }
    }

    [Fact]
    public async Task SignedIn_EveryPageHasTheHeaders_EveryFormItsToken_AndAPostWithoutOneIsRefused()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        var (_, _, design) = await HostedAppTests.PublishedAppAsync(stack, "owner@example.com", "Math Hints");
        using var client = NewClient(stack, out CookieContainer cookies);
        using (HttpResponseMessage session = await client.PostAsync("/api/auth/session", new StringContent("""{"email":"owner@example.com","password":"correct horse battery"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        }

        foreach (string path in DashboardPages.Append($"/dashboard/apps/{design.App.Id}").Append($"/apps/{design.Slug}"))
        {
            foreach (string language in new[] { "en-US,en;q=0.9", "ko-KR,ko;q=0.9" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Add("Accept-Language", language);
                using HttpResponseMessage response = await client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(30));
                string html = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode is HttpStatusCode.OK || path == "/dashboard/operator" && response.StatusCode == HttpStatusCode.Forbidden, $"{path}: {(int)response.StatusCode}");
                AssertHtmlHeaders(response, path);
                string lang = language.StartsWith("ko", StringComparison.Ordinal) ? "ko" : "en";
                Assert.Contains($"<html lang=\"{lang}\">", html);
                Assert.Equal(lang, response.Content.Headers.ContentLanguage.Single());
                Assert.DoesNotContain(" style=", html, StringComparison.Ordinal); // the policy allows no inline styles
                Assert.DoesNotMatch("<script>(?!</script>)", html); // nor inline scripts
                foreach (Match form in PostForm().Matches(html))
                {
                    Assert.Contains("name=\"__RequestVerificationToken\"", form.Value);
                }
            }
        }

        // A form posted without its token is refused, and nothing happens.
        string orgId = design.App.OrgId;
        using (HttpResponseMessage forged = await client.PostAsync("/dashboard/keys?handler=Create", Form(("name", "forged"))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }

        Assert.DoesNotContain(await stack.Host.Services.Get<KeyService>().ListAsync(orgId, default), k => k.Name == "forged");
        using (HttpResponseMessage preview = await client.PostAsync($"/dashboard/apps/{design.App.Id}/preview", Form(("title", "x"), ("prompt", "x"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, preview.StatusCode);
            Assert.Contains("csrf_failed", await preview.Content.ReadAsStringAsync());
        }

        // With the token it works: the key page shows the new key once.
        string token = await FormTokenAsync(client, "/dashboard/keys");
        using HttpResponseMessage created = await client.PostAsync("/dashboard/keys?handler=Create", Form(("name", "real"), ("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Contains("data-testid=\"new-key\">sk-", await created.Content.ReadAsStringAsync());
        Assert.Contains(await stack.Host.Services.Get<KeyService>().ListAsync(orgId, default), k => k.Name == "real");

        // A refused save shows the error and what was typed, and changes nothing.
        string builderToken = await FormTokenAsync(client, $"/dashboard/apps/{design.App.Id}");
        using (HttpResponseMessage refused = await client.PostAsync($"/dashboard/apps/{design.App.Id}?handler=Save", Form(
            ("__RequestVerificationToken", builderToken), ("template", "tutor"), ("title", "Typed title"), ("prompt", "Hello {{nobody}}"),
            ("temperature", "0.5"), ("top_p", "1"), ("max_tokens", "64"), ("fields[0].name", "question"), ("fields[0].label", "Q"), ("fields[0].kind", "text"))))
        {
            string html = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("no field is named &#x27;nobody&#x27;", html);
            Assert.Contains(">Hello {{nobody}}</textarea>", html);
            Assert.Contains("value=\"Typed title\"", html);
        }

        Assert.Equal("Math Hints", (await stack.Host.Services.Get<Inference.Platform.Apps.AppService>().DesignAsync(orgId, design.App.Id, default)).Draft.Title);

        // Cookies: the session and the antiforgery cookie are HttpOnly and SameSite=Strict.
        var named = cookies.GetAllCookies().ToDictionary(c => c.Name);
        Assert.True(named[Inference.Platform.Api.ManagementApi.SessionCookie].HttpOnly);
        Assert.True(named[WebSetup.AntiforgeryCookie].HttpOnly);
    }

    [Fact]
    public async Task PasswordReset_ThroughThePages_SetsANewPassword()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        await stack.SignUpAsync("choi@example.com");
        using var client = NewClient(stack, out _);
        string token = await FormTokenAsync(client, "/forgot-password");
        using (HttpResponseMessage sent = await client.PostAsync("/forgot-password", Form(("email", "choi@example.com"), ("__RequestVerificationToken", token))))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
            Assert.Contains("a link to choose a new password is on its way", await sent.Content.ReadAsStringAsync());
        }

        string mail = File.ReadAllText(Directory.GetFiles(Path.Combine(stack.Host.Services.Options.DataDir, "mail"), "*.eml").Single(f => f.Contains("choi@example.com", StringComparison.Ordinal)));
        string link = Regex.Match(mail, @"https?://\S+/reset-password\?token=[A-Za-z0-9_-]+").Value;
        string path = new Uri(link).PathAndQuery;
        string resetToken = Regex.Match(path, "token=(.+)").Groups[1].Value;
        string formToken = await FormTokenAsync(client, path);
        using (HttpResponseMessage done = await client.PostAsync("/reset-password", Form(("token", resetToken), ("password", "a brand new password"), ("__RequestVerificationToken", formToken))))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            Assert.Contains("Your password is changed.", await done.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.OK, (await stack.PostAsync("/api/auth/token", new { email = "choi@example.com", password = "a brand new password" })).Status);
        using HttpResponseMessage reused = await client.PostAsync("/reset-password", Form(("token", resetToken), ("password", "another new password"), ("__RequestVerificationToken", formToken)));
        Assert.Equal(HttpStatusCode.BadRequest, reused.StatusCode); // the token works once
    }

    [Fact]
    public async Task SignInPage_SharesTheAddressLimit_AndAnswersWithAPage()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, options: new Hosting.PlatformOptions { AuthRequestsPerMinute = 4 });
        using var client = NewClient(stack, out _);
        string token = await FormTokenAsync(client, "/signin"); // 1
        for (int i = 0; i < 3; i++) // 2, 3, 4
        {
            using HttpResponseMessage wrong = await client.PostAsync("/signin", Form(("email", "x@example.com"), ("password", "wrong password!"), ("__RequestVerificationToken", token)));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using HttpResponseMessage limited = await client.PostAsync("/signin", Form(("email", "x@example.com"), ("password", "wrong password!"), ("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        AssertHtmlHeaders(limited, "/signin");
        Assert.Contains("Too many sign-in attempts", await limited.Content.ReadAsStringAsync());
        // The API's sign-in endpoint counts against the same budget.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await stack.PostAsync("/api/auth/token", new { email = "x@example.com", password = "wrong password!" })).Status);
    }

    [Fact]
    public async Task StaticAssets_AreServedWithTypesAndETags_AndTheChartLibraryIsPinned()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        using HttpResponseMessage chart = await stack.Http.GetAsync("/static/chart.umd.min.js").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("text/javascript", chart.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("/*!\n * Chart.js v4.6.1", await chart.Content.ReadAsStringAsync());
        using var again = new HttpRequestMessage(HttpMethod.Get, "/static/chart.umd.min.js");
        again.Headers.TryAddWithoutValidation("If-None-Match", chart.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.NotModified, (await stack.Http.SendAsync(again)).StatusCode);
        Assert.Equal("text/css", (await stack.Http.GetAsync("/static/site.css")).Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await stack.Http.GetAsync("/static/nothing.js")).StatusCode);
    }

    private static void AssertHtmlHeaders(HttpResponseMessage response, string path)
    {
        Assert.True(response.Content.Headers.ContentType?.MediaType == "text/html", $"{path}: {response.Content.Headers.ContentType}");
        Assert.Equal(WebSetup.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
    }

    private static HttpClient NewClient(PlatformStack stack, out CookieContainer cookies)
    {
        cookies = new CookieContainer();
        return new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = stack.Host.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    private static async Task<string> FormTokenAsync(HttpClient client, string path)
    {
        string html = await client.GetStringAsync(path).WaitAsync(TimeSpan.FromSeconds(30));
        return Regex.Match(html, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
    }

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));
}

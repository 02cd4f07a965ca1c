using System.Text.RegularExpressions;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Inference.Platform.Tests.Web;

/// <summary>
/// axe-core (Deque, the engine browsers' own audits use) over the main pages, signed out and in, English and Korean,
/// desktop and phone: no serious or critical violation (labels, contrast, names of buttons and links, landmarks).
/// </summary>
public sealed class AccessibilityBrowserTests(Browser browser) : IClassFixture<Browser>
{
    [BrowserFact]
    public async Task MainPages_HaveNoSeriousAccessibilityViolations()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string site = stack.Host.HttpAddress.ToString().TrimEnd('/');
        var found = new List<string>();
        foreach ((string locale, bool phone) in new[] { ("en-US", false), ("ko-KR", true) })
        {
            await using IBrowserContext context = await browser.NewContextAsync(locale, phone);
            IPage page = await context.NewPageAsync();
            await CheckAsync(page, site + "/signin", found);
            await CheckAsync(page, site + "/signup", found);
            await page.Locator("#name").FillAsync("Park");
            await page.Locator("#email").FillAsync($"park.{locale}@example.com");
            await page.Locator("#password").FillAsync("correct horse battery");
            await page.Locator("#organization").FillAsync("Park Shop");
            await page.Locator("form button[type=submit]").ClickAsync();
            await Browser.AtUrlAsync(page, site + "/dashboard");
            await page.GotoAsync(site + "/dashboard/apps");
            await page.Locator("#app-name").FillAsync("Shop FAQ");
            await page.Locator("#tpl-faq").CheckAsync();
            await page.Locator("form button.primary").ClickAsync();
            await Browser.AtUrlAsync(page, new Regex("/dashboard/apps/app_"));
            string builder = page.Url;
            await page.Locator("#publish-button").ClickAsync();
            await page.GetByTestId("published-version").Filter(new() { HasText = "1" }).WaitForAsync();
            string slug = Regex.Match(await page.Locator("p.meta code").First.InnerTextAsync(), "/apps/(.+)").Groups[1].Value;
            foreach (string path in new[] { "/dashboard", "/dashboard/apps", "/dashboard/keys", "/dashboard/usage", "/dashboard/organization", "/dashboard/billing", "/dashboard/security", "/dashboard/playground", $"/apps/{slug}" })
            {
                await CheckAsync(page, site + path, found);
            }

            await CheckAsync(page, builder, found);
            if (phone)
            {
                await page.GotoAsync(site + "/dashboard");
                await Browser.ScreenshotAsync(page, "dashboard-phone-ko");
                await page.GotoAsync(builder);
                await Browser.ScreenshotAsync(page, "builder-phone-ko");
                // Nothing is wider than a phone's screen: no sideways scrolling.
                Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the builder scrolls sideways on a phone");
            }
        }

        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    private static async Task CheckAsync(IPage page, string url, List<string> found)
    {
        await page.GotoAsync(url);
        AxeResult result = await page.RunAxe();
        Assert.True(result.Passes.Length > 10, $"axe checked almost nothing on {url}"); // it ran: the page was audited
        foreach (AxeResultItem v in result.Violations.Where(v => v.Impact is "serious" or "critical"))
        {
            found.Add($"{url}: {v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Target?.ToString()))}");
        }
    }
}

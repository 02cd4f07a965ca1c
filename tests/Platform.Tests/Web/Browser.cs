using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Inference.Platform.Tests.Web;

/// <summary>One headless Chromium for a test class, and where its screenshots go (artifacts/screenshots, git-ignored).</summary>
public sealed class Browser : IAsyncLifetime
{
    private const float NavigationTimeoutMs = 30_000;

    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = null!;

    /// <summary>artifacts/screenshots under the repository (or INFERENCE_SCREENSHOTS).</summary>
    public static string ScreenshotDir { get; } = Environment.GetEnvironmentVariable("INFERENCE_SCREENSHOTS")
        ?? Path.Combine(RepoRoot(), "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(BrowserFactAttribute.ChromiumPath))
        {
            return; // every test of the class is skipped (or, when required, fails on Instance)
        }

        _playwright = await Playwright.CreateAsync();
        // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFactAttribute.ChromiumPath, Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"], Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        if (Instance is not null)
        {
            await Instance.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>A fresh context (no cookies) in the given language, with a phone-sized or desktop viewport.</summary>
    public async Task<IBrowserContext> NewContextAsync(string locale = "en-US", bool phone = false)
    {
        IBrowserContext context = await Instance.NewContextAsync(new BrowserNewContextOptions
        {
            Locale = locale,
            ExtraHTTPHeaders = new Dictionary<string, string> { ["Accept-Language"] = locale },
            ViewportSize = phone ? new ViewportSize { Width = 390, Height = 844 } : new ViewportSize { Width = 1280, Height = 900 },
        });
        context.SetDefaultTimeout(30_000);
        return context;
    }

    /// <summary>Runs a browser test's steps; on a failure, saves what the page showed (failure-NAME.png) before rethrowing.</summary>
    public static async Task RunAsync(Func<IPage> page, string name, Func<Task> steps)
    {
        try
        {
            await steps();
        }
        catch
        {
            try
            {
                await ScreenshotAsync(page(), "failure-" + name);
            }
            catch (PlaywrightException)
            {
                // The page is gone (a context the steps disposed as they failed): the steps' own failure is the one to see.
            }

            throw;
        }
    }

    /// <summary>
    /// Waits until the page is at <paramref name="url"/> with its document parsed. Not IPage.WaitForURLAsync: that
    /// also waits for the "load" lifecycle event, which Playwright was seen to miss on a saturated CPU (a sign-up's
    /// redirect timed out after 30 s with the page there and the network idle, once in about 20 runs).
    /// </summary>
    public static async Task AtUrlAsync(IPage page, string url)
    {
        await Assertions.Expect(page).ToHaveURLAsync(url, new PageAssertionsToHaveURLOptions { Timeout = NavigationTimeoutMs });
        await ParsedAsync(page);
    }

    /// <inheritdoc cref="AtUrlAsync(IPage, string)"/>
    public static async Task AtUrlAsync(IPage page, Regex url)
    {
        await Assertions.Expect(page).ToHaveURLAsync(url, new PageAssertionsToHaveURLOptions { Timeout = NavigationTimeoutMs });
        await ParsedAsync(page);
    }

    // Polled in the page, so it does not depend on lifecycle events reaching the client.
    private static Task ParsedAsync(IPage page) =>
        page.WaitForFunctionAsync("() => document.readyState !== 'loading'", null, new PageWaitForFunctionOptions { Timeout = NavigationTimeoutMs });

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotDir);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, name + ".png"), FullPage = true });
    }

    private static string RepoRoot() =>
        typeof(Browser).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value!;
}

using System.Diagnostics;

namespace Inference.Platform.Tests.Web;

/// <summary>
/// A fact driven in Debian's Chromium (/usr/bin/chromium) through Microsoft.Playwright. On a fresh machine, when the
/// tests run as root, the browser is installed first (apt-get install -y chromium, once per run); when it is still
/// missing the test is skipped with the reason, unless INFERENCE_TEST_BROWSER=require (.ci/run sets it).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserFactAttribute : FactAttribute
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly Lazy<string?> Missing = new(EnsureChromium);

    public BrowserFactAttribute()
    {
        if (Missing.Value is { } reason && !string.Equals(Environment.GetEnvironmentVariable("INFERENCE_TEST_BROWSER"), "require", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"{reason}; INFERENCE_TEST_BROWSER=require makes this a failure";
        }
    }

    private static string? EnsureChromium()
    {
        if (File.Exists(ChromiumPath))
        {
            return null;
        }

        if (Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get"))
        {
            return $"{ChromiumPath} is missing (apt-get install -y chromium)";
        }

        Console.Error.WriteLine("Installing Debian's chromium for the browser tests (apt-get install -y chromium)...");
        foreach (string args in new[] { "update -qq", "install -y -qq chromium" })
        {
            using var apt = Process.Start(new ProcessStartInfo("/usr/bin/apt-get", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            apt.StandardOutput.ReadToEnd();
            string error = apt.StandardError.ReadToEnd();
            if (!apt.WaitForExit(600_000) || apt.ExitCode != 0)
            {
                return $"{ChromiumPath} is missing and apt-get {args} failed: {error.Trim()}";
            }
        }

        return File.Exists(ChromiumPath) ? null : $"{ChromiumPath} is missing after apt-get install chromium";
    }
}

namespace Inference.Gateway.Tests.Metrics;

/// <summary>
/// A fact that needs promtool (Debian's prometheus package): reported as skipped, with the reason, when it is
/// missing, unless INFERENCE_TEST_PROMTOOL=require (.ci/run installs the package and sets that).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PromtoolFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/promtool";

    public PromtoolFactAttribute()
    {
        if (!File.Exists(Path)
            && !string.Equals(Environment.GetEnvironmentVariable("INFERENCE_TEST_PROMTOOL"), "require", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"{Path} is missing (apt-get install -y prometheus); INFERENCE_TEST_PROMTOOL=require makes this a failure";
        }
    }
}

using System.Reflection;

namespace Inference.Worker.Tests.Demo;

/// <summary>Locates the bundled demo model in the repository (the test output does not copy it).</summary>
internal static class BundledModel
{
    public const string Name = "brown-llama-5m";

    /// <summary>
    /// models/brown-llama-5m under the first folder holding Inference.sln above the test binaries, or (when
    /// they are built outside the repository, e.g. with --artifacts-path) under the RepoRoot recorded at build time.
    /// </summary>
    public static string Directory()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inference.sln")))
            {
                return Path.Combine(dir.FullName, "models", Name);
            }
        }

        string? recorded = typeof(BundledModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepoRoot")?.Value;
        if (recorded is not null && File.Exists(Path.Combine(recorded, "Inference.sln")))
        {
            return Path.Combine(recorded, "models", Name);
        }

        throw new InvalidOperationException($"no Inference.sln above {AppContext.BaseDirectory} or at the recorded RepoRoot '{recorded}'");
    }
}

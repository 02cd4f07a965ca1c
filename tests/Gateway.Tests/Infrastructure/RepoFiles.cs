using System.Reflection;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>Repository files the tests use: the bundled demo model and the worker daemon's binaries.</summary>
internal static class RepoFiles
{
    public const string BundledModelName = "brown-llama-5m";

    /// <summary>models/brown-llama-5m in the repository (found above the binaries or at the RepoRoot recorded at build time).</summary>
    public static string BundledModel() => Path.Combine(Root(), "models", BundledModelName);

    /// <summary>A file of the repository by its path from the root.</summary>
    public static string InRepo(string relative) => Path.Combine(Root(), relative);

    /// <summary>Inference.Worker.dll with its runtimeconfig: beside the tests, or the worker's own build output.</summary>
    public static string WorkerDll()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "Inference.Worker.dll");
        if (File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
        {
            return beside;
        }

        // --artifacts-path layout: <artifacts>/bin/<project>/<config>/.
        DirectoryInfo config = new(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        string sibling = Path.Combine(config.Parent!.Parent!.FullName, "Inference.Worker", config.Name, "Inference.Worker.dll");
        return File.Exists(sibling) ? sibling : throw new FileNotFoundException($"no runnable Inference.Worker.dll beside the tests or at {sibling}");
    }

    private static string Root()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inference.sln")))
            {
                return dir.FullName;
            }
        }

        string? recorded = typeof(RepoFiles).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepoRoot")?.Value;
        return recorded is not null && File.Exists(Path.Combine(recorded, "Inference.sln"))
            ? recorded
            : throw new InvalidOperationException($"no Inference.sln above {AppContext.BaseDirectory} or at the recorded RepoRoot '{recorded}'");
    }
}

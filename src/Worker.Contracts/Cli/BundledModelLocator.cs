namespace Inference.Worker.Cli;

/// <summary>
/// Finds the demo model shipped in the repository (models/brown-llama-5m), which the CLI serves when no
/// --model is given: the first models/brown-llama-5m/config.json above the current directory, then above
/// the binaries (dotnet run from anywhere in a clone, or a published build inside it).
/// </summary>
public static class BundledModelLocator
{
    public const string RelativePath = "models/brown-llama-5m";

    public static string? Find()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, RelativePath);
                if (File.Exists(Path.Combine(candidate, "config.json")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}

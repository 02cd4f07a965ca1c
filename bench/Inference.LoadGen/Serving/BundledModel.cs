namespace Inference.LoadGen.Serving;

/// <summary>Finds the repository's bundled model (models/brown-llama-5m) above the current directory or the binary.</summary>
public static class BundledModel
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

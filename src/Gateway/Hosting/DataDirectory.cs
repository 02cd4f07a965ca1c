namespace Inference.Gateway.Hosting;

/// <summary>
/// The one folder for data a gateway writes by default (the usage log; the platform's database will live there
/// too): <c>--data-dir</c> when given, else <c>data/</c> at the root of the clone the current directory is in
/// (the first folder upwards holding <see cref="RepositoryMarker"/>; the repository ignores <c>/data/</c>), else
/// <c>data/</c> in the current directory (an installed gateway, started from its own folder).
/// </summary>
public static class DataDirectory
{
    /// <summary>The folder's name under the clone's root or the current directory.</summary>
    public const string FolderName = "data";

    /// <summary>The file that marks the repository's root.</summary>
    public const string RepositoryMarker = "Inference.sln";

    /// <summary>The default data folder for the process's current directory.</summary>
    public static string Default() => Default(Environment.CurrentDirectory);

    /// <summary>The default data folder for a process started in <paramref name="currentDirectory"/> (full path; not created).</summary>
    public static string Default(string currentDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(currentDirectory);
        string start = Path.GetFullPath(currentDirectory);
        for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, RepositoryMarker)))
            {
                return Path.Combine(dir.FullName, FolderName);
            }
        }

        return Path.Combine(start, FolderName);
    }
}

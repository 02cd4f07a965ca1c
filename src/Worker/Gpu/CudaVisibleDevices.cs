namespace Inference.Worker.Gpu;

/// <summary>
/// Maps a CUDA device ordinal (cuda:N) to NVML's index. NVML numbers every GPU in PCI bus order and ignores
/// CUDA_VISIBLE_DEVICES; CUDA numbers only the listed ones, in list order. An entry is an NVML index or a UUID
/// ("GPU-..." or a unique prefix of it). Without the variable, ordinal N is NVML index N, which holds when the
/// process runs with CUDA_DEVICE_ORDER=PCI_BUS_ID or on machines whose GPUs are all alike (CUDA's default order
/// puts the fastest first). MIG devices are not mapped.
/// </summary>
public static class CudaVisibleDevices
{
    public const string EnvironmentVariable = "CUDA_VISIBLE_DEVICES";

    /// <summary>How many devices CUDA sees: the list's length when the variable is set, else NVML's count.</summary>
    public static int VisibleCount(string? visibleDevices, int nvmlCount) =>
        visibleDevices is null ? nvmlCount : Entries(visibleDevices).Length;

    /// <summary>The NVML index of CUDA ordinal <paramref name="ordinal"/>, or null with the reason.</summary>
    public static int? ToNvmlIndex(int ordinal, string? visibleDevices, IReadOnlyList<string> nvmlUuids, out string failure)
    {
        ArgumentNullException.ThrowIfNull(nvmlUuids);
        failure = string.Empty;
        if (visibleDevices is null)
        {
            if (ordinal < nvmlUuids.Count)
            {
                return ordinal;
            }

            failure = $"NVML sees {nvmlUuids.Count} GPU(s)";
            return null;
        }

        string[] entries = Entries(visibleDevices);
        if (ordinal >= entries.Length)
        {
            failure = $"{EnvironmentVariable}={visibleDevices} makes {entries.Length} GPU(s) visible";
            return null;
        }

        string entry = entries[ordinal];
        if (int.TryParse(entry, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
        {
            if (index < nvmlUuids.Count)
            {
                return index;
            }

            failure = $"{EnvironmentVariable} entry {entry} is not one of NVML's {nvmlUuids.Count} GPU(s)";
            return null;
        }

        if (entry.StartsWith("MIG-", StringComparison.OrdinalIgnoreCase))
        {
            failure = $"{EnvironmentVariable} entry {entry} is a MIG device, which is not mapped to NVML";
            return null;
        }

        string prefix = entry.StartsWith("GPU-", StringComparison.OrdinalIgnoreCase) ? entry : "GPU-" + entry;
        int found = -1;
        for (int i = 0; i < nvmlUuids.Count; i++)
        {
            if (nvmlUuids[i].StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                if (found >= 0)
                {
                    failure = $"{EnvironmentVariable} entry {entry} matches more than one GPU";
                    return null;
                }

                found = i;
            }
        }

        if (found < 0)
        {
            failure = $"{EnvironmentVariable} entry {entry} matches no GPU's UUID";
            return null;
        }

        return found;
    }

    /// <summary>
    /// CUDA stops at the first invalid entry (an empty or malformed one), which makes the rest invisible; an
    /// empty value hides every GPU.
    /// </summary>
    private static string[] Entries(string visibleDevices)
    {
        string[] parts = visibleDevices.Split(',', StringSplitOptions.TrimEntries);
        int valid = 0;
        while (valid < parts.Length && parts[valid].Length > 0 && (parts[valid][0] is not '-'))
        {
            valid++;
        }

        return parts[..valid];
    }
}

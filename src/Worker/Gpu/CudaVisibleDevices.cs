namespace Inference.Worker.Gpu;

/// <summary>
/// Maps a CUDA device ordinal (cuda:N) to NVML's index. NVML numbers every GPU in PCI bus order and ignores
/// CUDA_VISIBLE_DEVICES; CUDA numbers only the listed ones, in list order, and an index (in the list, or cuda:N
/// without one) counts in CUDA's device order: PCI bus order under CUDA_DEVICE_ORDER=PCI_BUS_ID, which the worker
/// sets unless told otherwise (<see cref="CudaDeviceOrder"/>), else fastest first. An index maps to NVML's under PCI
/// bus order, or fastest first when every GPU is the same model (ties keep PCI order); otherwise the mapping is
/// refused rather than guessed. A UUID entry ("GPU-..." or a unique prefix of it) maps under any order. A MIG entry
/// ("MIG-" and its UUID, as `nvidia-smi -L` lists it) names a MIG device, which NVML lists under its GPU rather than
/// as one (<see cref="ToMigIndex"/>).
/// </summary>
public static class CudaVisibleDevices
{
    public const string EnvironmentVariable = "CUDA_VISIBLE_DEVICES";

    /// <summary>How many devices CUDA sees: the list's length when the variable is set, else NVML's count.</summary>
    public static int VisibleCount(string? visibleDevices, int nvmlCount) =>
        visibleDevices is null ? nvmlCount : Entries(visibleDevices).Length;

    /// <summary>Where a failure starts with this, the GPU may exist but which one it is cannot be told.</summary>
    public const string OrderFailurePrefix = CudaDeviceOrder.EnvironmentVariable + " is ";

    /// <summary>Whether CUDA ordinal <paramref name="ordinal"/> is a MIG device (a "MIG-..." entry in CUDA_VISIBLE_DEVICES).</summary>
    public static bool IsMigInstance(int ordinal, string? visibleDevices)
    {
        if (visibleDevices is null)
        {
            return false;
        }

        string[] entries = Entries(visibleDevices);
        return ordinal < entries.Length && entries[ordinal].StartsWith("MIG-", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// For a MIG ordinal (<see cref="IsMigInstance"/>): the position of its MIG device in <paramref name="migUuids"/>
    /// (NVML's MIG devices, GPU by GPU), or null with the reason. The entry is "MIG-" and the device's UUID or a
    /// unique prefix of it; the pre-R470 form MIG-GPU-uuid/gi/ci is refused by name.
    /// </summary>
    public static int? ToMigIndex(int ordinal, string visibleDevices, IReadOnlyList<string> migUuids, out string failure)
    {
        ArgumentNullException.ThrowIfNull(visibleDevices);
        ArgumentNullException.ThrowIfNull(migUuids);
        failure = string.Empty;
        string[] entries = Entries(visibleDevices);
        string entry = ordinal < entries.Length ? entries[ordinal] : string.Empty;
        if (!entry.StartsWith("MIG-", StringComparison.OrdinalIgnoreCase))
        {
            failure = $"cuda:{ordinal} is not a MIG entry of {EnvironmentVariable}={visibleDevices}";
            return null;
        }

        if (entry.StartsWith("MIG-GPU-", StringComparison.OrdinalIgnoreCase) || entry.Contains('/', StringComparison.Ordinal))
        {
            failure = $"{EnvironmentVariable} entry {entry} is the pre-R470 MIG-GPU-uuid/gi/ci form; name the MIG device by the MIG-uuid `nvidia-smi -L` lists";
            return null;
        }

        return UniquePrefix(migUuids, entry, entry, "MIG device", $"none of NVML's {migUuids.Count} MIG device(s)", out failure);
    }

    /// <summary>The NVML index of CUDA ordinal <paramref name="ordinal"/>, or null with the reason.</summary>
    public static int? ToNvmlIndex(
        int ordinal, string? visibleDevices, string? deviceOrder, IReadOnlyList<string> nvmlUuids, IReadOnlyList<string> nvmlNames, out string failure)
    {
        ArgumentNullException.ThrowIfNull(nvmlUuids);
        ArgumentNullException.ThrowIfNull(nvmlNames);
        failure = string.Empty;
        if (visibleDevices is null)
        {
            if (ordinal >= nvmlUuids.Count)
            {
                failure = $"NVML sees {nvmlUuids.Count} GPU(s)";
                return null;
            }

            return InPciOrder(ordinal, deviceOrder, nvmlNames, out failure);
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
                return InPciOrder(index, deviceOrder, nvmlNames, out failure);
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
        return UniquePrefix(nvmlUuids, prefix, entry, "GPU", "no GPU's UUID", out failure);
    }

    /// <summary>The one UUID starting with <paramref name="prefix"/>; null, naming the entry, when none or several do.</summary>
    private static int? UniquePrefix(IReadOnlyList<string> uuids, string prefix, string entry, string several, string none, out string failure)
    {
        failure = string.Empty;
        int found = -1;
        for (int i = 0; i < uuids.Count; i++)
        {
            if (uuids[i].StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                if (found >= 0)
                {
                    failure = $"{EnvironmentVariable} entry {entry} matches more than one {several}";
                    return null;
                }

                found = i;
            }
        }

        if (found < 0)
        {
            failure = $"{EnvironmentVariable} entry {entry} matches {none}";
            return null;
        }

        return found;
    }

    /// <summary>
    /// CUDA's index <paramref name="index"/> as NVML's: the same under PCI bus order; fastest first, the same only
    /// when every GPU is the same model (equal speed keeps PCI order).
    /// </summary>
    private static int? InPciOrder(int index, string? deviceOrder, IReadOnlyList<string> nvmlNames, out string failure)
    {
        failure = string.Empty;
        if (CudaDeviceOrder.IsPciBusOrder(deviceOrder) || nvmlNames.All(n => n.Length > 0 && n == nvmlNames[0]))
        {
            return index;
        }

        string order = string.IsNullOrEmpty(deviceOrder) ? "unset (CUDA's default, fastest first)" : $"{deviceOrder} (fastest first)";
        failure = $"{OrderFailurePrefix}{order} and the GPUs are not all one model ({string.Join(", ", nvmlNames.Select((n, i) => $"{i} {(n.Length > 0 ? n : "unnamed")}"))}), "
            + $"so CUDA's index {index} need not be NVML's; set {CudaDeviceOrder.EnvironmentVariable}={CudaDeviceOrder.PciBusId} or name the GPU by UUID in {EnvironmentVariable}";
        return null;
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

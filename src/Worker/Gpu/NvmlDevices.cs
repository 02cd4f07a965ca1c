namespace Inference.Worker.Gpu;

/// <summary>
/// NVML opened for a look at every GPU on the machine: handles, UUIDs and names by NVML index, and the MIG devices of
/// GPUs in MIG mode (which NVML does not count as GPUs).
/// </summary>
internal sealed class NvmlDevices : IDisposable
{
    private NvmlDevices(NvmlLibrary nvml, nint[] handles, string[] uuids, string[] names, NvmlMigDevice[] migs)
    {
        Nvml = nvml;
        Handles = handles;
        Uuids = uuids;
        Names = names;
        Migs = migs;
    }

    public NvmlLibrary Nvml { get; }

    public IReadOnlyList<nint> Handles { get; }

    /// <summary>Each device's UUID; empty for one NVML would not open (no permission).</summary>
    public IReadOnlyList<string> Uuids { get; }

    public IReadOnlyList<string> Names { get; }

    public int Count => Handles.Count;

    /// <summary>Every MIG device, GPU by GPU; UUIDs "MIG-..." (empty for one NVML would not name).</summary>
    public IReadOnlyList<NvmlMigDevice> Migs { get; }

    /// <summary>Null, with the reason, when NVML cannot be opened or cannot count the devices.</summary>
    public static NvmlDevices? TryOpen(string? nvmlLibrary, out string failure)
    {
        NvmlLibrary? nvml = NvmlLibrary.TryOpen(nvmlLibrary, out failure);
        if (nvml is null)
        {
            return null;
        }

        NvmlReturn status = nvml.DeviceCount(out uint count);
        if (status != NvmlReturn.Success)
        {
            failure = $"nvmlDeviceGetCount_v2 failed: {nvml.ErrorString(status)}";
            nvml.Dispose();
            return null;
        }

        var handles = new nint[count];
        var uuids = new string[count];
        var names = new string[count];
        for (uint i = 0; i < count; i++)
        {
            uuids[i] = names[i] = string.Empty;
            if (nvml.DeviceHandle(i, out handles[i]) == NvmlReturn.Success)
            {
                _ = nvml.Uuid(handles[i], out uuids[i]);
                _ = nvml.Name(handles[i], out names[i]);
            }
            else
            {
                handles[i] = 0;
            }
        }

        var migs = new List<NvmlMigDevice>();
        for (int i = 0; i < handles.Length; i++)
        {
            if (handles[i] == 0 || nvml.MigEnabled(handles[i], out bool enabled) != NvmlReturn.Success || !enabled
                || nvml.MaxMigDeviceCount(handles[i], out uint max) != NvmlReturn.Success)
            {
                continue;
            }

            for (uint j = 0; j < max; j++)
            {
                if (nvml.MigDeviceHandle(handles[i], j, out nint mig) == NvmlReturn.Success && mig != 0)
                {
                    _ = nvml.Uuid(mig, out string uuid);
                    _ = nvml.Name(mig, out string name);
                    migs.Add(new NvmlMigDevice(i, (int)j, mig, uuid, name));
                }
            }
        }

        return new NvmlDevices(nvml, handles, uuids, names, [.. migs]);
    }

    /// <summary>"0 NVIDIA H200 (GPU-...)", for messages.</summary>
    public string Describe(int index) =>
        $"{index} {(Names[index].Length > 0 ? Names[index] : "unnamed GPU")}{(Uuids[index].Length > 0 ? $" ({Uuids[index]})" : string.Empty)}";

    /// <summary>
    /// The device CUDA ordinal <paramref name="ordinal"/> runs on: the GPU it maps to (<see cref="CudaVisibleDevices.ToNvmlIndex"/>),
    /// or for a MIG entry of CUDA_VISIBLE_DEVICES its MIG device (<see cref="CudaVisibleDevices.ToMigIndex"/>); null with the reason.
    /// </summary>
    public NvmlTarget? Find(int ordinal, string? visibleDevices, string? deviceOrder, out string failure)
    {
        if (CudaVisibleDevices.IsMigInstance(ordinal, visibleDevices))
        {
            if (CudaVisibleDevices.ToMigIndex(ordinal, visibleDevices!, [.. Migs.Select(m => m.Uuid)], out failure) is not int mig)
            {
                return null;
            }

            NvmlMigDevice d = Migs[mig];
            return new NvmlTarget(d.Gpu, d.Handle, d.Uuid, d.Name, DescribeMig(d), IsMig: true);
        }

        return CudaVisibleDevices.ToNvmlIndex(ordinal, visibleDevices, deviceOrder, Uuids, Names, out failure) is int index
            ? new NvmlTarget(index, Handles[index], Uuids[index], Names[index], $"GPU {Describe(index)}", IsMig: false)
            : null;
    }

    /// <summary>"MIG 0/1 NVIDIA H200 MIG 1g.18gb (MIG-...)", for messages.</summary>
    public static string DescribeMig(NvmlMigDevice mig) =>
        $"MIG {mig.Gpu}/{mig.Index} {(mig.Name.Length > 0 ? mig.Name : "unnamed")}{(mig.Uuid.Length > 0 ? $" ({mig.Uuid})" : string.Empty)}";

    public void Dispose() => Nvml.Dispose();
}

/// <summary>
/// A device a worker runs on: a GPU (<paramref name="Gpu"/> is its NVML index) or a MIG device of GPU
/// <paramref name="Gpu"/>; <paramref name="Description"/> names it in messages.
/// </summary>
internal readonly record struct NvmlTarget(int Gpu, nint Handle, string Uuid, string Name, string Description, bool IsMig);

/// <summary>MIG device <paramref name="Index"/> of NVML GPU <paramref name="Gpu"/>.</summary>
internal readonly record struct NvmlMigDevice(int Gpu, int Index, nint Handle, string Uuid, string Name);

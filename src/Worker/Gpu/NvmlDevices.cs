namespace Inference.Worker.Gpu;

/// <summary>NVML opened for a look at every GPU on the machine: handles, UUIDs and names by NVML index.</summary>
internal sealed class NvmlDevices : IDisposable
{
    private NvmlDevices(NvmlLibrary nvml, nint[] handles, string[] uuids, string[] names)
    {
        Nvml = nvml;
        Handles = handles;
        Uuids = uuids;
        Names = names;
    }

    public NvmlLibrary Nvml { get; }

    public IReadOnlyList<nint> Handles { get; }

    /// <summary>Each device's UUID; empty for one NVML would not open (no permission).</summary>
    public IReadOnlyList<string> Uuids { get; }

    public IReadOnlyList<string> Names { get; }

    public int Count => Handles.Count;

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

        return new NvmlDevices(nvml, handles, uuids, names);
    }

    /// <summary>"0 NVIDIA H200 (GPU-...)", for messages.</summary>
    public string Describe(int index) =>
        $"{index} {(Names[index].Length > 0 ? Names[index] : "unnamed GPU")}{(Uuids[index].Length > 0 ? $" ({Uuids[index]})" : string.Empty)}";

    public void Dispose() => Nvml.Dispose();
}

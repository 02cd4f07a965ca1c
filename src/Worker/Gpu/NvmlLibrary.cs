using System.Runtime.InteropServices;
using System.Text;

namespace Inference.Worker.Gpu;

/// <summary>
/// libnvidia-ml bound at run time: <see cref="NativeLibrary.TryLoad(string, out nint)"/> and one unmanaged function
/// pointer per entry point, so a machine without the driver (or a test pointing at a fake library) decides at start
/// instead of failing at the first call. Opening calls nvmlInit_v2; <see cref="Dispose"/> calls nvmlShutdown (NVML
/// counts inits, so several instances in one process are fine). Every method returns the NVML status; none throws.
/// Thread-safe as NVML is; callers must not call after Dispose.
/// </summary>
internal sealed unsafe class NvmlLibrary : IDisposable
{
    /// <summary>Overrides the library path (tests point it at a fake libnvidia-ml).</summary>
    public const string EnvironmentVariable = "INFERENCE_NVML_LIBRARY";

    /// <summary>The soname the NVIDIA driver installs.</summary>
    public const string DefaultPath = "libnvidia-ml.so.1";

    // nvml.h: NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE are both 96.
    private const int NameBufferSize = 96;
    private const int UuidBufferSize = 96;
    private const int TemperatureGpu = 0; // NVML_TEMPERATURE_GPU

    private readonly delegate* unmanaged<int> _shutdown;
    private readonly delegate* unmanaged<int, byte*> _errorString;
    private readonly delegate* unmanaged<uint*, int> _deviceGetCount;
    private readonly delegate* unmanaged<uint, nint*, int> _deviceGetHandleByIndex;
    private readonly delegate* unmanaged<nint, byte*, uint, int> _deviceGetName;
    private readonly delegate* unmanaged<nint, byte*, uint, int> _deviceGetUuid;
    private readonly delegate* unmanaged<nint, NvmlUtilization*, int> _deviceGetUtilizationRates;
    private readonly delegate* unmanaged<nint, NvmlMemory*, int> _deviceGetMemoryInfo;
    private readonly delegate* unmanaged<nint, int, uint*, int> _deviceGetTemperature;
    private readonly delegate* unmanaged<nint, uint*, int> _deviceGetPowerUsage;
    private readonly delegate* unmanaged<nint, uint*, int> _deviceGetEnforcedPowerLimit;
    private readonly delegate* unmanaged<nint, int, uint*, int> _deviceGetClockInfo;
    private readonly delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int> _deviceGetComputeRunningProcesses;

    // MIG (drivers since R450); absent exports answer NotSupported, as a GPU without MIG does.
    private readonly delegate* unmanaged<nint, uint*, uint*, int> _deviceGetMigMode;
    private readonly delegate* unmanaged<nint, uint*, int> _deviceGetMaxMigDeviceCount;
    private readonly delegate* unmanaged<nint, uint, nint*, int> _deviceGetMigDeviceHandleByIndex;
    private int _disposed;

    private NvmlLibrary(string path, nint handle)
    {
        Path = path;
        _shutdown = (delegate* unmanaged<int>)Export(handle, "nvmlShutdown");
        _errorString = (delegate* unmanaged<int, byte*>)Export(handle, "nvmlErrorString");
        _deviceGetCount = (delegate* unmanaged<uint*, int>)Export(handle, "nvmlDeviceGetCount_v2");
        _deviceGetHandleByIndex = (delegate* unmanaged<uint, nint*, int>)Export(handle, "nvmlDeviceGetHandleByIndex_v2");
        _deviceGetName = (delegate* unmanaged<nint, byte*, uint, int>)Export(handle, "nvmlDeviceGetName");
        _deviceGetUuid = (delegate* unmanaged<nint, byte*, uint, int>)Export(handle, "nvmlDeviceGetUUID");
        _deviceGetUtilizationRates = (delegate* unmanaged<nint, NvmlUtilization*, int>)Export(handle, "nvmlDeviceGetUtilizationRates");
        _deviceGetMemoryInfo = (delegate* unmanaged<nint, NvmlMemory*, int>)Export(handle, "nvmlDeviceGetMemoryInfo");
        _deviceGetTemperature = (delegate* unmanaged<nint, int, uint*, int>)Export(handle, "nvmlDeviceGetTemperature");
        _deviceGetPowerUsage = (delegate* unmanaged<nint, uint*, int>)Export(handle, "nvmlDeviceGetPowerUsage");
        _deviceGetEnforcedPowerLimit = (delegate* unmanaged<nint, uint*, int>)Export(handle, "nvmlDeviceGetEnforcedPowerLimit");
        _deviceGetClockInfo = (delegate* unmanaged<nint, int, uint*, int>)Export(handle, "nvmlDeviceGetClockInfo");

        _deviceGetMigMode = (delegate* unmanaged<nint, uint*, uint*, int>)Export(handle, "nvmlDeviceGetMigMode");
        _deviceGetMaxMigDeviceCount = (delegate* unmanaged<nint, uint*, int>)Export(handle, "nvmlDeviceGetMaxMigDeviceCount");
        _deviceGetMigDeviceHandleByIndex = (delegate* unmanaged<nint, uint, nint*, int>)Export(handle, "nvmlDeviceGetMigDeviceHandleByIndex");

        // _v3 (drivers since R510) and _v2 both fill nvmlProcessInfo_v2_t; _v1's struct is shorter and is never bound.
        nint processes = Export(handle, "nvmlDeviceGetComputeRunningProcesses_v3");
        _deviceGetComputeRunningProcesses = (delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int>)(processes != 0
            ? processes
            : Export(handle, "nvmlDeviceGetComputeRunningProcesses_v2"));
    }

    /// <summary>The path the library was loaded from.</summary>
    public string Path { get; }

    /// <summary>
    /// The path to load: <paramref name="configured"/>, else <see cref="EnvironmentVariable"/>, else
    /// <see cref="DefaultPath"/> (found through the loader's search path).
    /// </summary>
    public static string ResolvePath(string? configured) =>
        !string.IsNullOrWhiteSpace(configured) ? configured
        : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : DefaultPath;

    /// <summary>
    /// Loads the library and initializes NVML. Null, with the reason, when the library is absent, lacks an entry
    /// point the worker needs, or nvmlInit_v2 fails (no driver, no permission).
    /// </summary>
    public static NvmlLibrary? TryOpen(string? configuredPath, out string failure)
    {
        string path = ResolvePath(configuredPath);
        if (!NativeLibrary.TryLoad(path, out nint handle))
        {
            failure = $"{path} could not be loaded (no NVIDIA driver on this machine?)";
            return null;
        }

        // The handle is never freed: dlopen counts references, and a pointer still held by a sampler on another
        // thread must not point into an unmapped library.
        string? missing = MissingExport(handle);
        if (missing is not null)
        {
            failure = $"{path} has no {missing} (an NVIDIA driver older than R510?)";
            return null;
        }

        var init = (delegate* unmanaged<int>)Export(handle, "nvmlInit_v2");
        var library = new NvmlLibrary(path, handle);
        int status = init();
        if (status != (int)NvmlReturn.Success)
        {
            failure = $"nvmlInit_v2 failed: {library.ErrorString((NvmlReturn)status)}";
            return null;
        }

        failure = string.Empty;
        return library;
    }

    private static readonly string[] RequiredExports =
    [
        "nvmlInit_v2", "nvmlShutdown", "nvmlErrorString", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2",
        "nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetClockInfo",
    ];

    private static string? MissingExport(nint handle)
    {
        foreach (string name in RequiredExports)
        {
            if (Export(handle, name) == 0)
            {
                return name;
            }
        }

        return Export(handle, "nvmlDeviceGetComputeRunningProcesses_v3") == 0 && Export(handle, "nvmlDeviceGetComputeRunningProcesses_v2") == 0
            ? "nvmlDeviceGetComputeRunningProcesses_v3 (or _v2)"
            : null;
    }

    private static nint Export(nint handle, string name) => NativeLibrary.TryGetExport(handle, name, out nint address) ? address : 0;

    /// <summary>nvmlErrorString, e.g. "Not Supported"; the code itself when the library gives no text.</summary>
    public string ErrorString(NvmlReturn status)
    {
        byte* text = _errorString((int)status);
        return text is null ? $"NVML error {(int)status}" : Marshal.PtrToStringUTF8((nint)text) ?? $"NVML error {(int)status}";
    }

    public NvmlReturn DeviceCount(out uint count)
    {
        uint c = 0;
        var status = (NvmlReturn)_deviceGetCount(&c);
        count = c;
        return status;
    }

    public NvmlReturn DeviceHandle(uint index, out nint device)
    {
        nint d = 0;
        var status = (NvmlReturn)_deviceGetHandleByIndex(index, &d);
        device = d;
        return status;
    }

    public NvmlReturn Name(nint device, out string name) => Text(_deviceGetName, device, NameBufferSize, out name);

    /// <summary>The device's UUID, "GPU-" and 32 hex digits with dashes.</summary>
    public NvmlReturn Uuid(nint device, out string uuid) => Text(_deviceGetUuid, device, UuidBufferSize, out uuid);

    public NvmlReturn Utilization(nint device, out NvmlUtilization utilization)
    {
        NvmlUtilization u = default;
        var status = (NvmlReturn)_deviceGetUtilizationRates(device, &u);
        utilization = u;
        return status;
    }

    public NvmlReturn Memory(nint device, out NvmlMemory memory)
    {
        NvmlMemory m = default;
        var status = (NvmlReturn)_deviceGetMemoryInfo(device, &m);
        memory = m;
        return status;
    }

    /// <summary>The GPU die's temperature sensor, degrees Celsius.</summary>
    public NvmlReturn Temperature(nint device, out uint celsius) => Read(_deviceGetTemperature, device, TemperatureGpu, out celsius);

    /// <summary>Board power draw, milliwatts.</summary>
    public NvmlReturn PowerUsage(nint device, out uint milliwatts) => Read(_deviceGetPowerUsage, device, out milliwatts);

    /// <summary>The power limit the driver enforces, milliwatts.</summary>
    public NvmlReturn EnforcedPowerLimit(nint device, out uint milliwatts) => Read(_deviceGetEnforcedPowerLimit, device, out milliwatts);

    /// <summary>The current clock of one domain, MHz.</summary>
    public NvmlReturn Clock(nint device, NvmlClock clock, out uint megahertz) => Read(_deviceGetClockInfo, device, (int)clock, out megahertz);

    /// <summary>Whether MIG mode is on now (NVML_DEVICE_MIG_ENABLE); NotSupported on GPUs without MIG.</summary>
    public NvmlReturn MigEnabled(nint device, out bool enabled)
    {
        enabled = false;
        if (_deviceGetMigMode is null)
        {
            return NvmlReturn.NotSupported;
        }

        uint current = 0, pending = 0;
        var status = (NvmlReturn)_deviceGetMigMode(device, &current, &pending);
        enabled = status == NvmlReturn.Success && current == 1;
        return status;
    }

    /// <summary>How many MIG devices the GPU can hold (the index bound for <see cref="MigDeviceHandle"/>).</summary>
    public NvmlReturn MaxMigDeviceCount(nint device, out uint count)
    {
        count = 0;
        return _deviceGetMaxMigDeviceCount is null ? NvmlReturn.NotSupported : Read(_deviceGetMaxMigDeviceCount, device, out count);
    }

    /// <summary>The MIG device at <paramref name="index"/> of a GPU in MIG mode; NotFound where none exists.</summary>
    public NvmlReturn MigDeviceHandle(nint device, uint index, out nint migDevice)
    {
        migDevice = 0;
        if (_deviceGetMigDeviceHandleByIndex is null)
        {
            return NvmlReturn.NotSupported;
        }

        nint m = 0;
        var status = (NvmlReturn)_deviceGetMigDeviceHandleByIndex(device, index, &m);
        migDevice = m;
        return status;
    }

    /// <summary>Processes with a compute context on the device (the count is asked first, then the list with slack).</summary>
    public NvmlReturn ComputeProcesses(nint device, out GpuProcess[] processes)
    {
        processes = [];
        uint count = 0;
        var status = (NvmlReturn)_deviceGetComputeRunningProcesses(device, &count, null);
        // Processes come and go between the two calls: retry a few times with the size NVML asked for, plus slack.
        for (int attempt = 0; attempt < 4 && status == NvmlReturn.InsufficientSize; attempt++)
        {
            var buffer = new NvmlProcessInfo[count + 4];
            count = (uint)buffer.Length;
            fixed (NvmlProcessInfo* infos = buffer)
            {
                status = (NvmlReturn)_deviceGetComputeRunningProcesses(device, &count, infos);
            }

            if (status == NvmlReturn.Success)
            {
                processes = new GpuProcess[Math.Min(count, (uint)buffer.Length)];
                for (int i = 0; i < processes.Length; i++)
                {
                    ulong used = buffer[i].UsedGpuMemory;
                    processes[i] = new GpuProcess((int)buffer[i].Pid, used == NvmlProcessInfo.ValueNotAvailable ? null : (long)used);
                }
            }
        }

        return status;
    }

    private static NvmlReturn Text(delegate* unmanaged<nint, byte*, uint, int> function, nint device, int size, out string text)
    {
        byte* buffer = stackalloc byte[size];
        buffer[0] = 0;
        var status = (NvmlReturn)function(device, buffer, (uint)size);
        text = status == NvmlReturn.Success ? Encoding.UTF8.GetString(buffer, new ReadOnlySpan<byte>(buffer, size).IndexOf((byte)0) is var n and >= 0 ? n : size) : string.Empty;
        return status;
    }

    private static NvmlReturn Read(delegate* unmanaged<nint, uint*, int> function, nint device, out uint value)
    {
        uint v = 0;
        var status = (NvmlReturn)function(device, &v);
        value = v;
        return status;
    }

    private static NvmlReturn Read(delegate* unmanaged<nint, int, uint*, int> function, nint device, int kind, out uint value)
    {
        uint v = 0;
        var status = (NvmlReturn)function(device, kind, &v);
        value = v;
        return status;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _ = _shutdown();
        }
    }
}

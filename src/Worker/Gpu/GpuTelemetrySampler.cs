namespace Inference.Worker.Gpu;

/// <summary>
/// Samples the worker's own GPU(s) through NVML: at most once per interval (1 s by default), on demand when
/// <see cref="Current"/> is read after the interval passed (the stats stream reads it every 100 ms, a scrape
/// whenever it comes), so an idle worker costs nothing and no timer thread exists. A reader that finds another
/// sampling gets the previous sample rather than waiting. Never throws: a missing library, a failed init or an
/// unknown device give an unavailable telemetry with the reason, and an unsupported field is left null.
/// </summary>
public sealed class GpuTelemetrySampler : IDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    private readonly NvmlLibrary? _nvml;
    private readonly (int Index, nint Handle, string Uuid, string Name)[] _devices;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _sampling = new();
    private volatile GpuTelemetry _latest;
    private long _sampledAt;
    private bool _disposed;

    private GpuTelemetrySampler(NvmlLibrary? nvml, (int, nint, string, string)[] devices, GpuTelemetry? unavailable, TimeProvider time, TimeSpan interval)
    {
        _nvml = nvml;
        _devices = devices;
        _time = time;
        _interval = interval;
        _latest = unavailable ?? Sample();
        _sampledAt = time.GetTimestamp();
    }

    /// <summary>
    /// The sampler for a worker's --device: null on the CPU (no telemetry), else cuda:N mapped to NVML's index
    /// through CUDA_VISIBLE_DEVICES (<see cref="CudaVisibleDevices"/>); a MIG device is sampled as itself (NVML
    /// answers memory for it, not utilization, which stays null), labelled with its GPU's index.
    /// </summary>
    public static GpuTelemetrySampler? ForDevice(string device, string? nvmlLibrary, TimeProvider time, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(time);
        return CudaOrdinal(device) is int ordinal
            ? OpenOrdinal(ordinal, Environment.GetEnvironmentVariable(CudaVisibleDevices.EnvironmentVariable), nvmlLibrary, time, interval ?? DefaultInterval)
            : null;
    }

    /// <summary>Samples the devices at the given NVML indices (a worker pinned elsewhere, tests).</summary>
    public static GpuTelemetrySampler Open(IReadOnlyList<int> nvmlIndices, string? nvmlLibrary, TimeProvider? time = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(nvmlIndices);
        time ??= TimeProvider.System;
        TimeSpan period = interval ?? DefaultInterval;
        NvmlLibrary? nvml = NvmlLibrary.TryOpen(nvmlLibrary, out string failure);
        if (nvml is null)
        {
            return Failed(null, failure, time, period);
        }

        var devices = new (int, nint, string, string)[nvmlIndices.Count];
        for (int i = 0; i < devices.Length; i++)
        {
            int index = nvmlIndices[i];
            NvmlReturn status = nvml.DeviceHandle((uint)Math.Max(index, 0), out nint handle);
            if (index < 0 || status != NvmlReturn.Success)
            {
                return Failed(nvml, $"GPU {index}: nvmlDeviceGetHandleByIndex_v2 failed: {nvml.ErrorString(index < 0 ? NvmlReturn.InvalidArgument : status)}", time, period);
            }

            status = nvml.Uuid(handle, out string uuid);
            if (status != NvmlReturn.Success)
            {
                return Failed(nvml, $"GPU {index}: nvmlDeviceGetUUID failed: {nvml.ErrorString(status)}", time, period);
            }

            _ = nvml.Name(handle, out string name);
            devices[i] = (index, handle, uuid, name);
        }

        return new GpuTelemetrySampler(nvml, devices, null, time, period);
    }

    internal static GpuTelemetrySampler OpenOrdinal(int ordinal, string? visibleDevices, string? nvmlLibrary, TimeProvider time, TimeSpan interval)
    {
        NvmlDevices? found = NvmlDevices.TryOpen(nvmlLibrary, out string failure);
        if (found is null)
        {
            return Failed(null, failure, time, interval);
        }

        if (found.Find(ordinal, visibleDevices, Environment.GetEnvironmentVariable(CudaDeviceOrder.EnvironmentVariable), out failure) is not NvmlTarget target)
        {
            return Failed(found.Nvml, $"cuda:{ordinal} is not an NVML {(CudaVisibleDevices.IsMigInstance(ordinal, visibleDevices) ? "MIG " : string.Empty)}device: {failure}", time, interval);
        }

        if (target.Handle == 0 || target.Uuid.Length == 0)
        {
            return Failed(found.Nvml, $"{target.Description}: NVML gives no {(target.Handle == 0 ? "handle" : "UUID")} for it", time, interval);
        }

        // The handle belongs to this NVML session: the sampler takes the session over (and shuts it down).
        return new GpuTelemetrySampler(found.Nvml, [(target.Gpu, target.Handle, target.Uuid, target.Name)], null, time, interval);
    }

    /// <summary>0 for "cuda", N for "cuda:N", null for anything else (cpu; DeviceOption reports bad values).</summary>
    internal static int? CudaOrdinal(string device)
    {
        string v = device.Trim().ToLowerInvariant();
        if (v == "cuda")
        {
            return 0;
        }

        return v.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(v.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
            ? n
            : null;
    }

    private static GpuTelemetrySampler Failed(NvmlLibrary? nvml, string reason, TimeProvider time, TimeSpan interval)
    {
        nvml?.Dispose();
        return new GpuTelemetrySampler(null, [], GpuTelemetry.Unavailable(reason), time, interval);
    }

    /// <summary>The latest sample, refreshed first when it is older than the interval.</summary>
    public GpuTelemetry Current
    {
        get
        {
            if (_nvml is null || _time.GetElapsedTime(Interlocked.Read(ref _sampledAt)) < _interval || !_sampling.TryEnter())
            {
                return _latest;
            }

            try
            {
                if (!_disposed && _time.GetElapsedTime(Interlocked.Read(ref _sampledAt)) >= _interval)
                {
                    _latest = Sample();
                    Interlocked.Exchange(ref _sampledAt, _time.GetTimestamp());
                }

                return _latest;
            }
            finally
            {
                _sampling.Exit();
            }
        }
    }

    private GpuTelemetry Sample()
    {
        try
        {
            var samples = new GpuDeviceSample[_devices.Length];
            for (int i = 0; i < samples.Length; i++)
            {
                samples[i] = SampleDevice(_nvml!, _devices[i]);
            }

            return new GpuTelemetry { Devices = samples };
        }
#pragma warning disable CA1031 // telemetry must never fail the worker; the reason is what operators see
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return GpuTelemetry.Unavailable($"sampling failed: {ex.Message}");
        }
    }

    private static GpuDeviceSample SampleDevice(NvmlLibrary nvml, (int Index, nint Handle, string Uuid, string Name) d)
    {
        nint h = d.Handle;
        bool utilization = nvml.Utilization(h, out NvmlUtilization u) == NvmlReturn.Success;
        bool memory = nvml.Memory(h, out NvmlMemory m) == NvmlReturn.Success;
        bool temperature = nvml.Temperature(h, out uint celsius) == NvmlReturn.Success;
        bool power = nvml.PowerUsage(h, out uint milliwatts) == NvmlReturn.Success;
        bool limit = nvml.EnforcedPowerLimit(h, out uint limitMilliwatts) == NvmlReturn.Success;
        bool sm = nvml.Clock(h, NvmlClock.Sm, out uint smMegahertz) == NvmlReturn.Success;
        bool mem = nvml.Clock(h, NvmlClock.Memory, out uint memMegahertz) == NvmlReturn.Success;
        return new GpuDeviceSample
        {
            Index = d.Index,
            Uuid = d.Uuid,
            Name = d.Name,
            UtilizationRatio = utilization ? u.Gpu / 100.0 : null,
            MemoryUsedBytes = memory ? (long)m.Used : null,
            MemoryTotalBytes = memory ? (long)m.Total : null,
            TemperatureCelsius = temperature ? celsius : null,
            PowerWatts = power ? milliwatts / 1000.0 : null,
            PowerLimitWatts = limit ? limitMilliwatts / 1000.0 : null,
            SmClockHertz = sm ? smMegahertz * 1e6 : null,
            MemoryClockHertz = mem ? memMegahertz * 1e6 : null,
        };
    }

    public void Dispose()
    {
        lock (_sampling)
        {
            if (!_disposed)
            {
                _disposed = true;
                _nvml?.Dispose();
            }
        }
    }
}

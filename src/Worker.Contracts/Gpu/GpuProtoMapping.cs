using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Gpu;

/// <summary>GPU telemetry to and from worker.proto's LoadReport (fields 19-20): absent fields stay absent.</summary>
internal static class GpuProtoMapping
{
    /// <summary>Adds <paramref name="gpu"/> to <paramref name="report"/> and returns it.</summary>
    public static Proto.LoadReport WithGpu(Proto.LoadReport report, GpuTelemetry? gpu)
    {
        if (gpu is null)
        {
            return report;
        }

        if (!gpu.IsAvailable)
        {
            report.GpuUnavailable = gpu.UnavailableReason;
            return report;
        }

        foreach (GpuDeviceSample d in gpu.Devices)
        {
            var sample = new Proto.GpuSample { Index = d.Index, Uuid = d.Uuid, Name = d.Name };
            if (d.UtilizationRatio is double utilization)
            {
                sample.UtilizationRatio = utilization;
            }

            if (d.MemoryUsedBytes is long used)
            {
                sample.MemoryUsedBytes = used;
            }

            if (d.MemoryTotalBytes is long total)
            {
                sample.MemoryTotalBytes = total;
            }

            if (d.TemperatureCelsius is double temperature)
            {
                sample.TemperatureCelsius = temperature;
            }

            if (d.PowerWatts is double power)
            {
                sample.PowerWatts = power;
            }

            if (d.PowerLimitWatts is double limit)
            {
                sample.PowerLimitWatts = limit;
            }

            if (d.SmClockHertz is double sm)
            {
                sample.SmClockHertz = sm;
            }

            if (d.MemoryClockHertz is double memory)
            {
                sample.MemoryClockHertz = memory;
            }

            report.Gpus.Add(sample);
        }

        return report;
    }

    /// <summary>Null when the report carries no GPU fields (a CPU or older worker).</summary>
    public static GpuTelemetry? FromProto(Proto.LoadReport report)
    {
        if (report.HasGpuUnavailable)
        {
            return GpuTelemetry.Unavailable(report.GpuUnavailable);
        }

        if (report.Gpus.Count == 0)
        {
            return null;
        }

        var devices = new GpuDeviceSample[report.Gpus.Count];
        for (int i = 0; i < devices.Length; i++)
        {
            Proto.GpuSample s = report.Gpus[i];
            devices[i] = new GpuDeviceSample
            {
                Index = s.Index,
                Uuid = s.Uuid,
                Name = s.Name,
                UtilizationRatio = s.HasUtilizationRatio ? s.UtilizationRatio : null,
                MemoryUsedBytes = s.HasMemoryUsedBytes ? s.MemoryUsedBytes : null,
                MemoryTotalBytes = s.HasMemoryTotalBytes ? s.MemoryTotalBytes : null,
                TemperatureCelsius = s.HasTemperatureCelsius ? s.TemperatureCelsius : null,
                PowerWatts = s.HasPowerWatts ? s.PowerWatts : null,
                PowerLimitWatts = s.HasPowerLimitWatts ? s.PowerLimitWatts : null,
                SmClockHertz = s.HasSmClockHertz ? s.SmClockHertz : null,
                MemoryClockHertz = s.HasMemoryClockHertz ? s.MemoryClockHertz : null,
            };
        }

        return new GpuTelemetry { Devices = devices };
    }
}

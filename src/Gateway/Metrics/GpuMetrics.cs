using System.Globalization;
using Inference.Gateway.Workers;
using Inference.Worker.Gpu;
using Prometheus;

namespace Inference.Gateway.Metrics;

/// <summary>
/// The workers' GPU telemetry as gauges labelled {worker, gpu (NVML index), uuid}, in base units, read from each
/// worker's latest load report at scrape time (in-process and remote workers alike). A series exists only while a
/// reachable worker reports that value: a CPU worker, unavailable telemetry, a field the GPU does not support or a
/// worker that is down give no series (the family's HELP/TYPE lines remain), never a zero.
/// </summary>
internal static class GpuMetrics
{
    private static readonly string[] Labels = ["worker", "gpu", "uuid"];

    public static void Register(CollectorRegistry registry, Func<IReadOnlyList<IWorker>> workers)
    {
        MetricFactory f = Prometheus.Metrics.WithCustomRegistry(registry);
        var gauges = new (Gauge Gauge, Func<GpuDeviceSample, double?> Read)[]
        {
            (f.CreateGauge("gpu_utilization_ratio", "Fraction of the last sample period a kernel ran on the GPU (NVML utilization.gpu / 100).", Labels), d => d.UtilizationRatio),
            (f.CreateGauge("gpu_memory_used_bytes", "GPU memory in use, all processes.", Labels), d => d.MemoryUsedBytes),
            (f.CreateGauge("gpu_memory_total_bytes", "GPU memory installed.", Labels), d => d.MemoryTotalBytes),
            (f.CreateGauge("gpu_temperature_celsius", "GPU die temperature.", Labels), d => d.TemperatureCelsius),
            (f.CreateGauge("gpu_power_watts", "GPU board power draw.", Labels), d => d.PowerWatts),
            (f.CreateGauge("gpu_power_limit_watts", "Power limit the driver enforces.", Labels), d => d.PowerLimitWatts),
            (f.CreateGauge("gpu_sm_clock_hertz", "Current SM clock.", Labels), d => d.SmClockHertz),
            (f.CreateGauge("gpu_memory_clock_hertz", "Current memory clock.", Labels), d => d.MemoryClockHertz),
        };

        registry.AddBeforeCollectCallback(() =>
        {
            IReadOnlyList<IWorker> current = workers();
            foreach ((Gauge gauge, Func<GpuDeviceSample, double?> read) in gauges)
            {
                var live = new HashSet<string>(StringComparer.Ordinal);
                foreach (IWorker w in current)
                {
                    if (w.State == WorkerState.Down || w.Load?.Gpu is not { IsAvailable: true } gpu)
                    {
                        continue;
                    }

                    foreach (GpuDeviceSample d in gpu.Devices)
                    {
                        if (read(d) is double value)
                        {
                            string index = d.Index.ToString(CultureInfo.InvariantCulture);
                            gauge.WithLabels(w.Id, index, d.Uuid).Set(value);
                            live.Add(Key(w.Id, index, d.Uuid));
                        }
                    }
                }

                // Series of workers, GPUs or fields that stopped reporting go, rather than freezing at their last value.
                foreach (string[] labels in gauge.GetAllLabelValues().ToArray())
                {
                    if (!live.Contains(Key(labels[0], labels[1], labels[2])))
                    {
                        gauge.RemoveLabelled(labels);
                    }
                }
            }
        });
    }

    private static string Key(string worker, string gpu, string uuid) => string.Join('\u001f', worker, gpu, uuid);
}

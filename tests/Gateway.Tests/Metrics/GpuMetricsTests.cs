using System.Globalization;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Workers;
using Inference.TestSupport.Gpu;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Gpu;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Metrics;

/// <summary>
/// The gpu_* gauges on a live gateway's /metrics, for an in-process worker and a remote one, with the worker's
/// telemetry read from a fake libnvidia-ml (the worker runs its model on the CPU; its sampler is handed to the host).
/// </summary>
[Collection(ModelCollection.Name)]
public sealed class GpuMetricsTests(ModelFixture model)
{
    private static readonly string[] Gauges =
    [
        "gpu_utilization_ratio", "gpu_memory_used_bytes", "gpu_memory_total_bytes", "gpu_temperature_celsius",
        "gpu_power_watts", "gpu_power_limit_watts", "gpu_sm_clock_hertz", "gpu_memory_clock_hertz",
    ];

    [Fact]
    public async Task Metrics_LocalWorkerOnFakeH200_EachGaugeWithItsValueAndLabels_UnsupportedFieldDisappears()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        using FakeNvml fake = FakeNvml.Build(config);
        var time = new ManualTimeProvider();
        await using TestGateway gateway = await TestGateway.StartAsync(
            [new LocalWorker(StartHost(GpuTelemetrySampler.Open([1], fake.LibraryPath, time)))], keysJson: null);

        Dictionary<string, double> series = GpuSeries(await ScrapeAsync(gateway));
        config["1.power_mw"] = "!3";
        config["1.clock_sm"] = "!3";
        fake.Configure(config);
        time.Advance(TimeSpan.FromSeconds(1));
        Dictionary<string, double> later = GpuSeries(await ScrapeAsync(gateway));

        string labels = $"{{worker=\"local\",gpu=\"1\",uuid=\"{FakeNvml.H200Uuid1}\"}}";
        Assert.Equal(
            new Dictionary<string, double>
            {
                ["gpu_utilization_ratio" + labels] = 0.05,
                ["gpu_memory_used_bytes" + labels] = 536870912,
                ["gpu_memory_total_bytes" + labels] = 150754820096,
                ["gpu_temperature_celsius" + labels] = 31,
                ["gpu_power_watts" + labels] = 75.5,
                ["gpu_power_limit_watts" + labels] = 700,
                ["gpu_sm_clock_hertz" + labels] = 345e6,
                ["gpu_memory_clock_hertz" + labels] = 2619e6,
            },
            series);
        Assert.Equal(Gauges.Except(["gpu_power_watts", "gpu_sm_clock_hertz"]).Select(g => g + labels).Order(), later.Keys.Order());
    }

    [Fact]
    public async Task Metrics_TelemetryUnavailable_NoGpuSeries()
    {
        string missing = Path.Combine(Path.GetTempPath(), "absent-" + Guid.NewGuid().ToString("N"), "libnvidia-ml.so.1");
        var sampler = GpuTelemetrySampler.Open([0], missing);
        Assert.False(sampler.Current.IsAvailable);
        await using TestGateway gateway = await TestGateway.StartAsync([new LocalWorker(StartHost(sampler))], keysJson: null);

        string exposition = await ScrapeAsync(gateway);

        Assert.Empty(GpuSeries(exposition));
        Assert.Contains("inference_kv_cache_usage_perc{worker=\"local\"}", exposition, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_CpuWorker_NoGpuSeries()
    {
        await using TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);

        string exposition = await ScrapeAsync(gateway);

        Assert.Null(model.Host.Gpu);
        Assert.Empty(GpuSeries(exposition));
        Assert.Contains("inference_worker_healthy{worker=\"local\"} 1", exposition, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_RemoteWorkerOnFakeH200_GaugesTravelInTheLoadReports()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config.Remove("0.temp"); // NOT_SUPPORTED: absent on the far side too
        using FakeNvml fake = FakeNvml.Build(config);
        await using WorkerServer server = await WorkerServer.StartAsync(new WorkerServerOptions { Port = 0 }, configureLogging: b => b.ClearProviders()).WaitAsync(TimeSpan.FromSeconds(60));
        server.Attach(StartHost(GpuTelemetrySampler.Open([0], fake.LibraryPath)), ownsHost: true);
        var worker = new GrpcWorker(server.Address);
        await worker.WaitUntilReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        await using TestGateway gateway = await TestGateway.StartAsync([worker], keysJson: null);

        Dictionary<string, double> series = [];
        await Eventually.TrueAsync(async () => (series = GpuSeries(await ScrapeAsync(gateway))).Count > 0, TimeSpan.FromSeconds(30), "gpu_* series from the remote worker");

        string labels = $"{{worker=\"{worker.Id}\",gpu=\"0\",uuid=\"{FakeNvml.H200Uuid0}\"}}";
        Assert.Equal(Gauges.Except(["gpu_temperature_celsius"]).Select(g => g + labels).Order(), series.Keys.Order());
        Assert.Equal(0.73, series["gpu_utilization_ratio" + labels]);
        Assert.Equal(412.345, series["gpu_power_watts" + labels]);
        Assert.Equal(1980e6, series["gpu_sm_clock_hertz" + labels]);
        Assert.Equal(150754820096, series["gpu_memory_total_bytes" + labels]);
    }

    private static WorkerHost StartHost(GpuTelemetrySampler gpu)
    {
        string dir = BundledModelLocator.Find() ?? throw new InvalidOperationException("the bundled model models/brown-llama-5m was not found");
        ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = dir, KvCacheMemory = "16MiB" });
        var engine = new EngineLoop(runtime, new EngineOptions(), TimeProvider.System, new Random(1));
        return new WorkerHost(runtime, engine, ModelFixture.ModelName, TimeProvider.System, gpu);
    }

    private static Task<string> ScrapeAsync(TestGateway gateway) => gateway.Http.GetStringAsync("/metrics").WaitAsync(TestTimeouts.Call);

    // Sample lines of the gpu_* families: "name{labels}" -> value.
    private static Dictionary<string, double> GpuSeries(string exposition) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith("gpu_", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.LastIndexOf(' ')], l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture), StringComparer.Ordinal);
}

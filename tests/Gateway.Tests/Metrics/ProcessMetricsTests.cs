using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Inference.Gateway.Metrics;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Gateway.Tests.Metrics;

/// <summary>Process and runtime series on /metrics (prometheus-net's DotNetStats and MeterAdapter), next to the gateway's own.</summary>
[Collection(ModelCollection.Name)]
public sealed class ProcessMetricsTests(ModelFixture model)
{
    private const string KestrelClosedConnections = "microsoft_aspnetcore_server_kestrel_kestrel_connection_duration_count";
    private const string KestrelRejected = "microsoft_aspnetcore_server_kestrel_kestrel_rejected_connections";

    [Fact]
    public async Task Metrics_RealGateway_HasProcessAndRuntimeSeries_InValidExposition()
    {
        await using TestGateway gateway = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        using HttpResponseMessage warm = await gateway.PostAsync("/v1/completions", """{"model":"brown-llama-5m","prompt":"The jury","max_tokens":2}""");
        Assert.True(warm.IsSuccessStatusCode, await warm.Content.ReadAsStringAsync());
        GC.Collect(); // the last-collection heap series exist once a GC has happened

        Exposition metrics = Exposition.Parse(await gateway.Http.GetStringAsync("/metrics").WaitAsync(TestTimeouts.Call));

        Assert.True(metrics.Single("process_cpu_seconds_total") > 0);
        Assert.True(metrics.Single("process_working_set_bytes") > 0); // resident set size on Linux
        Assert.True(metrics.Single("process_open_handles") > 0); // file descriptors, sockets included
        Assert.True(metrics.Single("dotnet_total_memory_bytes") > 0);
        Assert.True(metrics.Sum("system_runtime_dotnet_gc_last_collection_heap_size") > 0); // per generation
        Assert.True(metrics.Sum("system_runtime_dotnet_gc_pause_time") >= 0);
        Assert.True(metrics.Single("system_runtime_dotnet_thread_pool_queue_length") >= 0);
        Assert.True(metrics.Single("system_runtime_dotnet_thread_pool_thread_count") > 0);
        Assert.True(metrics.Sum("inference_request_total") >= 1); // the gateway's own series are still there
    }

    [Fact]
    public async Task Metrics_TwoGatewaysInOneProcess_EachCountsOnlyItsOwnConnections()
    {
        await using TestGateway first = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null);
        using (var once = new HttpClient { BaseAddress = first.BaseAddress })
        {
            using HttpResponseMessage health = await once.GetAsync("/health").WaitAsync(TestTimeouts.Call);
        }

        // Kestrel records a connection's duration when it has closed on the server side.
        using (var timeout = new CancellationTokenSource(TestTimeouts.Call))
        {
            while (await ClosedConnectionsAsync(first.Http) < 1)
            {
                await Task.Delay(20, timeout.Token);
            }
        }

        await using (TestGateway second = await TestGateway.StartAsync([await model.CreateWorkerAsync()], keysJson: null))
        {
            Assert.Equal(0, await ClosedConnectionsAsync(second.Http)); // the first gateway's connection is another host's meter
        }

        Exposition after = Exposition.Parse(await first.Http.GetStringAsync("/metrics").WaitAsync(TestTimeouts.Call));
        Assert.True(after.Sum(KestrelClosedConnections) >= 1);
        Assert.True(after.Single("process_cpu_seconds_total") > 0);
    }

    [Fact]
    public async Task Dispose_StopsListening_AndIgnoresOtherHostsMeters()
    {
        using ServiceProvider ours = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using ServiceProvider theirs = new ServiceCollection().AddMetrics().BuildServiceProvider();
        CollectorRegistryHolder registry = new();
        var metrics = new ProcessMetrics(registry.Registry, ours.GetRequiredService<IMeterFactory>());
        await metrics.StartingAsync(CancellationToken.None).Within();
        Meter ourKestrel = ours.GetRequiredService<IMeterFactory>().Create("Microsoft.AspNetCore.Server.Kestrel");
        Counter<long> ourRejected = ourKestrel.CreateCounter<long>("kestrel.rejected_connections");
        UpDownCounter<long> ourActive = ourKestrel.CreateUpDownCounter<long>("kestrel.active_connections");
        Counter<long> theirRejected = theirs.GetRequiredService<IMeterFactory>()
            .Create("Microsoft.AspNetCore.Server.Kestrel").CreateCounter<long>("kestrel.rejected_connections");

        ourRejected.Add(2);
        ourActive.Add(1);
        theirRejected.Add(5);
        Exposition before = await registry.ScrapeAsync();
        Assert.Equal(2, before.Sum(KestrelRejected));
        Assert.False(before.Has("microsoft_aspnetcore_server_kestrel_kestrel_active_connections")); // up/down: left out

        await metrics.StoppedAsync(CancellationToken.None).Within();
        metrics.Dispose(); // the container disposes it again after the host stopped it
        ourRejected.Add(3);

        Assert.Equal(2, (await registry.ScrapeAsync()).Sum(KestrelRejected));
    }

    private static async Task<double> ClosedConnectionsAsync(HttpClient http)
    {
        Exposition metrics = Exposition.Parse(await http.GetStringAsync("/metrics").WaitAsync(TestTimeouts.Call));
        return metrics.Has(KestrelClosedConnections) ? metrics.Sum(KestrelClosedConnections) : 0;
    }

    private sealed class CollectorRegistryHolder
    {
        public Prometheus.CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

        public async Task<Exposition> ScrapeAsync()
        {
            using var stream = new MemoryStream();
            await Registry.CollectAndExportAsTextAsync(stream).Within();
            return Exposition.Parse(Encoding.UTF8.GetString(stream.ToArray()));
        }
    }

    /// <summary>
    /// The Prometheus text format (0.0.4), checked as it is read: every sample belongs to a family with one
    /// # TYPE line (histogram and summary samples by their _bucket/_sum/_count suffix), every value is a
    /// number, and no series (name and labels) appears twice.
    /// </summary>
    private sealed class Exposition
    {
        private readonly Dictionary<string, List<double>> _samples = new(StringComparer.Ordinal);

        public static Exposition Parse(string text)
        {
            var result = new Exposition();
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            var series = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    string[] parts = line.Split(' ');
                    Assert.True(parts.Length == 4, $"bad TYPE line: {line}");
                    Assert.True(types.TryAdd(parts[2], parts[3]), $"second TYPE line for {parts[2]}");
                    Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                    continue;
                }

                if (line.StartsWith('#'))
                {
                    continue;
                }

                int nameEnd = line.IndexOfAny(['{', ' ']);
                Assert.True(nameEnd > 0, $"bad sample line: {line}");
                string name = line[..nameEnd];
                int valueStart = line[nameEnd] == '{' ? line.IndexOf("} ", nameEnd, StringComparison.Ordinal) + 2 : nameEnd + 1;
                Assert.True(valueStart > nameEnd, $"bad labels: {line}");
                string seriesKey = line[..(valueStart - 1)];
                string valueText = line[valueStart..].Split(' ')[0]; // an optional timestamp follows
                Assert.True(
                    double.TryParse(valueText.Replace("+Inf", "Infinity", StringComparison.Ordinal).Replace("-Inf", "-Infinity", StringComparison.Ordinal),
                        NumberStyles.Float, CultureInfo.InvariantCulture, out double value),
                    $"not a number: {line}");
                Assert.True(series.Add(seriesKey), $"duplicate series: {seriesKey}");
                Assert.True(FamilyOf(name, types) is not null, $"no # TYPE line for {name}");
                if (!result._samples.TryGetValue(name, out List<double>? values))
                {
                    result._samples[name] = values = [];
                }

                values.Add(value);
            }

            return result;
        }

        /// <summary>The value of a series without labels (or with exactly one label set).</summary>
        public double Single(string name) =>
            Assert.Single(_samples.TryGetValue(name, out List<double>? v) ? v : throw new Xunit.Sdk.XunitException($"no series {name}"));

        public bool Has(string name) => _samples.ContainsKey(name);

        /// <summary>The sum over all label sets of <paramref name="name"/>; fails when there is none.</summary>
        public double Sum(string name) =>
            _samples.TryGetValue(name, out List<double>? v) && v.Count > 0 ? v.Sum() : throw new Xunit.Sdk.XunitException($"no series {name}");

        private static string? FamilyOf(string name, Dictionary<string, string> types)
        {
            if (types.ContainsKey(name))
            {
                return name;
            }

            foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
            {
                if (name.EndsWith(suffix, StringComparison.Ordinal) && types.TryGetValue(name[..^suffix.Length], out string? type)
                    && (type is "histogram" || (type is "summary" && suffix != "_bucket")))
                {
                    return name[..^suffix.Length];
                }
            }

            return null;
        }
    }
}

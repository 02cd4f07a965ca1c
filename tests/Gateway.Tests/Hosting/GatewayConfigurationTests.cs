using Inference.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Inference.Gateway.Tests.Hosting;

/// <summary>The gateway's settings through the options framework: sources in order, every failure listed, unknown keys named.</summary>
public sealed class GatewayConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gateway-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Settings(string json)
    {
        string path = Path.Combine(_dir, "appsettings.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Load_FileThenEnvironmentThenCommandLine_LaterSourcesWin()
    {
        string file = Settings("""
            {"Gateway": {"Workers": ["http://10.0.0.5:9000"], "HttpPort": 8100, "GrpcPort": 8101, "Replicas": 3,
                         "RoutingPolicy": "least-loaded", "DrainTimeout": "00:00:45", "LocalEngine": {"Scheduler": {"MaxNumSeqs": 32}}}}
            """);
        Environment.SetEnvironmentVariable("INFERENCE_Gateway__GrpcPort", "8201");
        Environment.SetEnvironmentVariable("INFERENCE_Gateway__Replicas", "4");
        try
        {
            IConfigurationRoot configuration = GatewayConfiguration.Build(file, new Dictionary<string, string?> { ["Gateway:Replicas"] = "5" });
            GatewayOptions options = GatewayConfiguration.Load(configuration);

            Assert.Equal(["http://10.0.0.5:9000"], options.Workers);
            Assert.Equal(8100, options.HttpPort);            // file
            Assert.Equal(8201, options.GrpcPort);            // environment over file
            Assert.Equal(5, options.Replicas);               // command line over both
            Assert.Equal("least-loaded", options.RoutingPolicy);
            Assert.Equal(TimeSpan.FromSeconds(45), options.DrainTimeout);
            Assert.Equal(32, options.LocalEngine.Scheduler.MaxNumSeqs);
            Assert.Equal(new GatewayOptions().LocalEngine.Scheduler.MaxNumBatchedTokens, options.LocalEngine.Scheduler.MaxNumBatchedTokens);
        }
        finally
        {
            Environment.SetEnvironmentVariable("INFERENCE_Gateway__GrpcPort", null);
            Environment.SetEnvironmentVariable("INFERENCE_Gateway__Replicas", null);
        }
    }

    [Fact]
    public void Load_SeveralBadSettings_ListsEveryFailureNamingItsSetting()
    {
        string file = Settings("""
            {"Gateway": {"WorkerDns": ["workers-without-port"], "HttpPort": 70000, "Replicas": 0, "RoutingPolicy": "random",
                         "Host": "0.0.0.0", "LocalEngine": {"Scheduler": {"MaxNumSeqs": 0}}}}
            """);

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => GatewayConfiguration.Load(GatewayConfiguration.Build(file, [])));

        string[] failures = [.. ex.Failures];
        Assert.Contains(failures, f => f.Contains("Gateway:WorkerDns", StringComparison.Ordinal) && f.Contains("workers-without-port", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Gateway:HttpPort", StringComparison.Ordinal) && f.Contains("70000", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Gateway:Replicas", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Gateway:RoutingPolicy", StringComparison.Ordinal) && f.Contains("random", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Gateway:KeysFile", StringComparison.Ordinal)); // beyond loopback without keys
        Assert.Contains(failures, f => f.Contains("Gateway:LocalEngine:Scheduler", StringComparison.Ordinal));
        Assert.Equal(6, failures.Length);
    }

    [Fact]
    public void Load_UnknownOrMistypedKey_IsRefusedNamingIt()
    {
        InvalidOperationException unknown = Assert.Throws<InvalidOperationException>(() =>
            GatewayConfiguration.Load(GatewayConfiguration.Build(Settings("""{"Gateway": {"Workers": ["http://w:1"], "HtpPort": 8000}}"""), [])));
        Assert.Contains("HtpPort", unknown.Message, StringComparison.Ordinal);

        InvalidOperationException mistyped = Assert.Throws<InvalidOperationException>(() =>
            GatewayConfiguration.Load(GatewayConfiguration.Build(null, new Dictionary<string, string?> { ["Gateway:Workers:0"] = "http://w:1", ["Gateway:HttpPort"] = "eighty" })));
        Assert.Contains("Gateway:HttpPort", mistyped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoWorkersAnywhere_Fails()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => GatewayConfiguration.Load(GatewayConfiguration.Build(null, [])));
        Assert.Contains(ex.Failures, f => f.Contains("--worker-dns", StringComparison.Ordinal));
    }
}

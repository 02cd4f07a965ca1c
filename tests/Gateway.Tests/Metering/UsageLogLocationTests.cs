using System.Text.Json;
using Inference.Gateway.Hosting;
using Inference.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Metering;

/// <summary>Where a gateway started without --usage-log writes its usage records: the data folder, never the current directory.</summary>
[Collection(ModelCollection.Name)]
public sealed class UsageLogLocationTests(ModelFixture model) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("usage-location-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Gateway_NoUsageLogGiven_WritesUsageUnderTheDataFolder_CreatedAtStart()
    {
        string data = Path.Combine(_root, "data"); // does not exist yet
        string stray = Path.Combine(Environment.CurrentDirectory, "usage.jsonl");
        File.Delete(stray);
        var errors = new ErrorLogCollector();
        var options = new GatewayOptions { HttpPort = 0, GrpcPort = -1, DataDir = data }; // UsageLog left at its default

        string id;
        await using (GatewayHost gateway = await GatewayHost.StartAsync(
            options, new GatewayDependencies { Workers = [await model.CreateWorkerAsync()] }, logging: b => b.AddProvider(errors)).WaitAsync(TimeSpan.FromSeconds(60)))
        {
            Assert.True(Directory.Exists(data));
            using var http = new HttpClient { BaseAddress = gateway.HttpAddress };
            using HttpResponseMessage response = await http.PostAsync(
                "/v1/completions", new StringContent("""{"model":"brown-llama-5m","prompt":"The jury","max_tokens":2}""", System.Text.Encoding.UTF8, "application/json"))
                .WaitAsync(TimeSpan.FromSeconds(60));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
        }

        // The record is written when the request ends; the host's disposal waited for it.
        string[] lines = await File.ReadAllLinesAsync(Path.Combine(data, "usage.jsonl")).Within();
        Assert.Contains(lines, l => JsonDocument.Parse(l).RootElement.GetProperty("request_id").GetString() == id);
        Assert.False(File.Exists(stray), "a usage log appeared in the current directory");
        Assert.Empty(errors.Errors);
    }
}

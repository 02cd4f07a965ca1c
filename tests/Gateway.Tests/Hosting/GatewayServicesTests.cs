using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Inference.Gateway.Hosting;
using Inference.Gateway.Serving;
using Inference.Gateway.Tests.Workers;
using Inference.Gateway.Workers;
using Inference.Worker.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Hosting;

/// <summary>
/// The gateway as services of an ordinary ASP.NET Core host: AddInferenceGateway builds its parts in the container,
/// UseInferenceGatewayErrors and MapInferenceGateway put it on the host's port, and the container disposes what it built.
/// </summary>
public sealed class GatewayServicesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gateway-services-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>An in-process worker over a model folder that does not exist: its load fails naming the folder.</summary>
    private GatewayOptions MissingModel() => new()
    {
        HttpPort = 0,
        GrpcPort = -1,
        UsageLog = Path.Combine(_dir, "usage.jsonl"),
        LocalWorker = new WorkerOptions { ModelDir = Path.Combine(_dir, "no-such-model") },
    };

    [Fact]
    public async Task AddInferenceGateway_InAPlainWebApplication_ServesAndTheContainerDisposesWhatItBuilt()
    {
        await using var local = new LocalWorker(TestWorkers.StartHost());
        var worker = new ScriptedWorker("w0", local);
        string usageLog = Path.Combine(_dir, "usage.jsonl");
        var options = new GatewayOptions { HttpPort = 0, GrpcPort = -1, UsageLog = usageLog, ResponseCache = false };

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddInferenceGateway(options, new GatewayDependencies { Workers = [worker] });
        WebApplication app = builder.Build();
        app.UseInferenceGatewayErrors();
        app.MapInferenceGateway();
        await app.StartAsync();
        try
        {
            Assert.Same(app.Services.GetRequiredService<WorkerPool>(), app.Services.GetRequiredService<GatewayService>().Pool);
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TestWorkers.Timeout };

            using HttpResponseMessage ready = await http.GetAsync(new Uri("/ready", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            using JsonDocument models = JsonDocument.Parse(await http.GetStringAsync(new Uri("/v1/models", UriKind.Relative)));
            string model = models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;

            using HttpResponseMessage completion = await http.PostAsJsonAsync(
                new Uri("/v1/completions", UriKind.Relative), new { model, prompt = "the cat", max_tokens = 4, ignore_eos = true });
            Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
            using JsonDocument body = JsonDocument.Parse(await completion.Content.ReadAsStringAsync());
            Assert.Equal(4, body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Single(worker.Served);

            // The error middleware answers a bad body with an OpenAI error object, and the host keeps serving.
            using var bad = new StringContent("{\"model\":", System.Text.Encoding.UTF8, "application/json");
            using HttpResponseMessage badAnswer = await http.PostAsync(new Uri("/v1/completions", UriKind.Relative), bad);
            Assert.Equal(HttpStatusCode.BadRequest, badAnswer.StatusCode);
            using JsonDocument error = JsonDocument.Parse(await badAnswer.Content.ReadAsStringAsync());
            Assert.Equal("invalid_request_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        // The pool the container built disposed its worker once; the usage sink it built was flushed and closed.
        Assert.Equal(1, worker.Disposals);
        string[] records = await File.ReadAllLinesAsync(usageLog);
        Assert.Single(records, r => r.Contains("\"completion_tokens\":4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartAsync_RedisUnreachable_FailsWithTheStoreError_BeforeAnyModelLoad()
    {
        // A model folder that does not exist: were the workers started first, the failure would be a model load error.
        GatewayOptions options = MissingModel() with { Redis = "127.0.0.1:1,connectTimeout=500,connectRetry=0" };

        await Assert.ThrowsAsync<StackExchange.Redis.RedisConnectionException>(async () =>
        {
            await using GatewayHost host = await GatewayHost.StartAsync(options, logging: l => l.ClearProviders());
        });
    }

    [Fact]
    public async Task StartAsync_BadModelFolder_FailsNamingTheFolder_AndAGatewayStartsAfterIt()
    {
        GatewayOptions options = MissingModel();

        Exception failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using GatewayHost host = await GatewayHost.StartAsync(options, logging: l => l.ClearProviders());
        });
        Assert.Contains("no-such-model", failure.Message, StringComparison.Ordinal);

        // The same process starts a working gateway afterwards (nothing of the failed one holds the usage log).
        await using var local = new LocalWorker(TestWorkers.StartHost());
        await using GatewayHost next = await GatewayHost.StartAsync(
            options with { LocalWorker = null }, new GatewayDependencies { Workers = [new ScriptedWorker("w1", local)] }, logging: l => l.ClearProviders());
        using var http = new HttpClient { BaseAddress = next.HttpAddress, Timeout = TestWorkers.Timeout };
        using HttpResponseMessage ready = await http.GetAsync(new Uri("/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}

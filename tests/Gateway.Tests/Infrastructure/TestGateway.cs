using System.Net.Http.Headers;
using System.Text;
using Inference.Gateway.Hosting;
using Inference.Gateway.Workers;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>A gateway on loopback ports picked by the OS, over given workers, with its own key file and usage log.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly string _dir;
    private readonly ErrorLogCollector _errors;

    private TestGateway(GatewayHost host, string dir, string usageLog, ErrorLogCollector errors)
    {
        Host = host;
        _dir = dir;
        _errors = errors;
        UsageLog = usageLog;
        Http = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public GatewayHost Host { get; }

    public HttpClient Http { get; }

    public string UsageLog { get; }

    public Uri BaseAddress => Host.HttpAddress;

    /// <summary>The gateway's own log entries (Information and up) so far.</summary>
    public IReadOnlyCollection<ErrorLogCollector.LogEntry> Logs => _errors.Entries;

    /// <summary>Set by tests that provoke a server-side error on purpose (e.g. a limits store that is down).</summary>
    public bool ErrorsExpected { get; set; }

    public static async Task<TestGateway> StartAsync(
        IReadOnlyList<IWorker> workers, string? keysJson, GatewayOptions? options = null, GatewayDependencies? dependencies = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "gateway-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string? keysFile = null;
        if (keysJson is not null)
        {
            keysFile = Path.Combine(dir, "keys.json");
            await File.WriteAllTextAsync(keysFile, keysJson);
        }

        string usage = Path.Combine(dir, "usage.jsonl");
        options = (options ?? new GatewayOptions()) with
        {
            HttpPort = 0,
            GrpcPort = 0,
            KeysFile = keysFile,
            UsageLog = usage,
            DrainTimeout = options?.DrainTimeout ?? TimeSpan.FromSeconds(10),
        };
        var errors = new ErrorLogCollector();
        GatewayHost host = await GatewayHost.StartAsync(
            options,
            (dependencies ?? new GatewayDependencies()) with { Workers = workers },
            logging: b => b.AddProvider(errors)).WaitAsync(TimeSpan.FromSeconds(60));
        return new TestGateway(host, dir, usage, errors);
    }

    /// <summary>POSTs a JSON body with an optional bearer key.</summary>
    public Task<HttpResponseMessage> PostAsync(string path, string json, string? key = null, string contentType = "application/json", HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(json, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return Http.SendAsync(request, completion).WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>The usage records written so far (one JSON object per line).</summary>
    public async Task<List<System.Text.Json.JsonElement>> UsageRecordsAsync()
    {
        if (!File.Exists(UsageLog))
        {
            return [];
        }

        string[] lines;
        using (var stream = new FileStream(UsageLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var reader = new StreamReader(stream))
        {
            lines = (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }

        return lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        if (!ErrorsExpected)
        {
            // STYLE.md: a test run fails on unexpected Error logs.
            Assert.True(_errors.Errors.Count == 0, "unexpected error logs: " + string.Join(" | ", _errors.Errors));
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

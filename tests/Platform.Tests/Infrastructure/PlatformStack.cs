using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Inference.Gateway.Hosting;
using Inference.Gateway.Workers;
using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Inference.Worker.Cli;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>
/// The whole stack as `dotnet run --project src/Platform` runs it (PlatformHost: gateway and management API on one
/// real Kestrel port) over the bundled model, on a fresh database; the model is loaded once per test run.
/// </summary>
public sealed class PlatformStack : IAsyncDisposable
{
    private static readonly Lazy<WorkerHost> Model = new(() => WorkerHost.Start(
        new WorkerOptions { ModelDir = BundledModelLocator.Find() ?? throw new InvalidOperationException("the bundled model was not found"), KvCacheMemory = "64MiB" },
        new EngineOptions(), "brown-llama-5m"));

    private readonly bool _ownsDatabase;

    private PlatformStack(PlatformHost host, LogCapture logs, string database, bool ownsDatabase)
    {
        Host = host;
        Logs = logs;
        Database = database;
        _ownsDatabase = ownsDatabase;
        Http = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public PlatformHost Host { get; }

    public LogCapture Logs { get; }

    /// <summary>The database spec, for a second replica on the same data.</summary>
    public string Database { get; }

    public HttpClient Http { get; }

    public static async Task<PlatformStack> StartAsync(DatabaseKind kind, string? database = null, PlatformOptions? options = null, bool grpc = false,
        int httpPort = 0, LogCapture? logs = null)
    {
        // A database given is the caller's (a restart on the same data): this stack leaves it in place.
        bool ownsDatabase = database is null;
        database ??= await TestDatabases.NewAsync(kind);
        logs ??= new LogCapture();
        PlatformOptions platform = (options ?? new PlatformOptions()) with { Database = database, DataDir = TestDatabases.TempFolder("platform-stack") };
        var gateway = new GatewayOptions { HttpPort = httpPort, GrpcPort = grpc ? 0 : -1, RequireKeys = true, DrainTimeout = TimeSpan.FromSeconds(5) };
        PlatformHost host = await PlatformHost.StartAsync(platform, gateway,
            new GatewayDependencies { Workers = [new LocalWorker(Model.Value, ownsHost: false)] }, logs.Configure).WaitAsync(TimeSpan.FromSeconds(120));
        return new PlatformStack(host, logs, database, ownsDatabase);
    }

    /// <summary>Sends a request to the management API; returns the status and the parsed JSON body (null when empty).</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, object? body = null, string? token = null,
        Action<HttpRequestMessage>? configure = null, Action<HttpResponseMessage>? onResponse = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        configure?.Invoke(request);
        using HttpResponseMessage response = await Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));
        onResponse?.Invoke(response);
        string text = await response.Content.ReadAsStringAsync();
        JsonElement json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        if (!response.IsSuccessStatusCode && text.Length > 0 && path.StartsWith("/api", StringComparison.Ordinal))
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        return (response.StatusCode, json);
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path, string token) => SendAsync(HttpMethod.Get, path, null, token);

    public Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object body, string? token = null) => SendAsync(HttpMethod.Post, path, body, token);

    /// <summary>Signs up and signs in; returns the user id and an access token.</summary>
    public async Task<(string UserId, string Token)> SignUpAsync(string email, string password = "correct horse battery")
    {
        var (status, user) = await PostAsync("/api/auth/signup", new { email, password, name = email.Split('@')[0] });
        Assert.Equal(HttpStatusCode.Created, status);
        var (tokenStatus, tokens) = await PostAsync("/api/auth/token", new { email, password });
        Assert.Equal(HttpStatusCode.OK, tokenStatus);
        return (user.GetProperty("id").GetString()!, tokens.GetProperty("access_token").GetString()!);
    }

    /// <summary>Creates an organization; returns its id.</summary>
    public async Task<string> CreateOrgAsync(string token, string name)
    {
        var (status, org) = await PostAsync("/api/orgs", new { name }, token);
        Assert.Equal(HttpStatusCode.Created, status);
        return org.GetProperty("id").GetString()!;
    }

    /// <summary>Creates a key; returns its id and secret.</summary>
    public async Task<(string Id, string Secret)> CreateKeyAsync(string token, string orgId, string name = "prod")
    {
        var (status, key) = await PostAsync($"/api/orgs/{orgId}/keys", new { name }, token);
        Assert.Equal(HttpStatusCode.Created, status);
        return (key.GetProperty("id").GetString()!, key.GetProperty("secret").GetString()!);
    }

    /// <summary>A chat completion with an API key; returns the status and body.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> ChatAsync(string apiKey, int maxTokens = 8) =>
        await SendAsync(HttpMethod.Post, "/v1/chat/completions",
            new { model = "brown-llama-5m", messages = new[] { new { role = "user", content = "The jury said that" } }, max_tokens = maxTokens }, apiKey);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        string dataDir = Host.Services.Options.DataDir;
        string? sqlite = _ownsDatabase ? Host.Services.Database.SqlitePath : null;
        await Host.DisposeAsync();
        TestDatabases.Remove(dataDir, sqlite);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

/// <summary>The OpenAPI document served at /api/openapi.json is the one checked in (docs/platform-openapi.json).</summary>
public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task Served_EqualsTheCheckedInDocumentAndCoversEveryEndpoint()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        string served = await stack.Http.GetStringAsync("/api/openapi.json").WaitAsync(TimeSpan.FromSeconds(30));
        JsonNode document = JsonNode.Parse(served)!;
        string normalized = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        string path = Path.Combine(RepoRoot(), "docs", "platform-openapi.json");
        if (Environment.GetEnvironmentVariable("INFERENCE_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(path, normalized);
        }

        Assert.True(File.Exists(path), $"{path} is missing: run the tests once with INFERENCE_UPDATE_OPENAPI=1 and check it in");
        Assert.True(normalized == await File.ReadAllTextAsync(path),
            "the served OpenAPI document differs from docs/platform-openapi.json: run the tests with INFERENCE_UPDATE_OPENAPI=1 and review the diff");

        JsonObject paths = document["paths"]!.AsObject();
        Assert.Contains("/api/orgs/{orgId}/keys", paths.Select(p => p.Key));
        Assert.DoesNotContain(paths, p => p.Key.StartsWith("/v1", StringComparison.Ordinal));
        // Request bodies are described with their snake_case fields.
        string schemas = document["components"]!["schemas"]!.ToJsonString();
        Assert.Contains("\"refresh_token\"", schemas, StringComparison.Ordinal);
        Assert.Contains("\"monthly_budget_krw\"", schemas, StringComparison.Ordinal);
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inference.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (Inference.sln) was not found above " + AppContext.BaseDirectory);
    }
}

using System.Net;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

/// <summary>The whole stack on a real PostgreSQL that is stopped while it serves: inference goes on, nothing metered is lost.</summary>
[RequiresPostgres]
public sealed class PlatformOutageTests
{
    [DbFact]
    public async Task PostgresStoppedWhileServing_ChatsKeepWorkingAndTheirUsageArrivesAfterItReturns()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string database = await server.CreateDatabaseAsync("serving");
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Postgres, database);
        var (_, token) = await stack.SignUpAsync("kim@example.com");
        string org = await stack.CreateOrgAsync(token, "School");
        var (_, secret) = await stack.CreateKeyAsync(token, org);
        Assert.Equal(HttpStatusCode.OK, (await stack.ChatAsync(secret)).Status);

        await server.StopAsync();
        long served = 0;
        for (int i = 0; i < 6; i++)
        {
            var (status, body) = await stack.ChatAsync(secret, maxTokens: 4);
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            served += body.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        }

        // The management API says the database is away, as problem details with Retry-After.
        var (apiStatus, problem) = await stack.GetAsync($"/api/orgs/{org}/usage", token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, apiStatus);
        Assert.Equal("database_unavailable", problem.GetProperty("code").GetString());

        await server.StartAgainAsync();
        long requests = 0;
        for (int attempt = 0; attempt < 100 && requests < 7; attempt++)
        {
            await Task.Delay(200); // the delivery service retries every second
            var (status, usage) = await stack.GetAsync($"/api/orgs/{org}/usage", token);
            requests = status == HttpStatusCode.OK ? usage.GetProperty("requests").GetInt64() : 0;
        }

        Assert.Equal(7, requests);
        Assert.Contains(stack.Logs.Lines, l => l.Text.Contains("spooling records to disk", StringComparison.Ordinal));
    }
}

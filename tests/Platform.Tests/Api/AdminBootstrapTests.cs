using System.Net;
using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

public sealed class AdminBootstrapTests
{
    [Fact]
    public async Task FirstStart_PrintedTokenCreatesOneAdminOnceAndANewStartNeedsNone()
    {
        string database = await TestDatabases.NewAsync(DatabaseKind.Sqlite);
        string token;
        await using (PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, database))
        {
            token = stack.Host.BootstrapToken!;
            Assert.StartsWith("boot_", token, StringComparison.Ordinal);
            Assert.DoesNotContain(token, stack.Logs.AllText, StringComparison.Ordinal);
            string file = stack.Host.BootstrapTokenFile!;
            Assert.Equal(AdminBootstrap.TokenFileName, Path.GetFileName(file));
            Assert.Equal(token, (await File.ReadAllTextAsync(file)).Trim());
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file)); // no one else on the machine reads it
            }
            var (wrong, _) = await stack.PostAsync("/api/admin/bootstrap", new { token = token + "x", email = "root@example.com", password = "correct horse battery" });
            Assert.Equal(HttpStatusCode.BadRequest, wrong);
            var (weak, problem) = await stack.PostAsync("/api/admin/bootstrap", new { token, email = "root@example.com", password = "short" });
            Assert.Equal(HttpStatusCode.BadRequest, weak);
            Assert.Equal("password", problem.GetProperty("field").GetString()); // a bad request does not spend the token
            var (created, admin) = await stack.PostAsync("/api/admin/bootstrap", new { token, email = "root@example.com", password = "correct horse battery" });
            Assert.Equal(HttpStatusCode.Created, created);
            Assert.True(admin.GetProperty("is_admin").GetBoolean());
            Assert.False(File.Exists(file)); // spent: its file is gone
            var (again, _) = await stack.PostAsync("/api/admin/bootstrap", new { token, email = "root2@example.com", password = "correct horse battery" });
            Assert.Equal(HttpStatusCode.BadRequest, again);

            var (_, tokens) = await stack.PostAsync("/api/auth/token", new { email = "root@example.com", password = "correct horse battery" });
            Assert.Equal(HttpStatusCode.OK, (await stack.GetAsync("/api/admin/orgs", tokens.GetProperty("access_token").GetString()!)).Status);
            var (_, user) = await stack.SignUpAsync("user@example.com");
            Assert.Equal(HttpStatusCode.NotFound, (await stack.GetAsync("/api/admin/orgs", user)).Status); // not an admin: the path does not exist
        }

        await using (PlatformStack restarted = await PlatformStack.StartAsync(DatabaseKind.Sqlite, database))
        {
            Assert.Null(restarted.Host.BootstrapToken);
            Assert.False(File.Exists(Path.Combine(restarted.Host.Services.Options.DataDir, AdminBootstrap.TokenFileName)));
        }

        TestDatabases.Remove(Path.GetDirectoryName(database)!);
    }

    [Fact]
    public async Task EachStartWritesANewToken_OnlyTheLatestWorks()
    {
        string database = await TestDatabases.NewAsync(DatabaseKind.Sqlite);
        string first;
        await using (PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite, database))
        {
            first = stack.Host.BootstrapToken!;
        }

        await using (PlatformStack restarted = await PlatformStack.StartAsync(DatabaseKind.Sqlite, database))
        {
            string second = (await File.ReadAllTextAsync(restarted.Host.BootstrapTokenFile!)).Trim();
            Assert.NotEqual(first, second);
            var (stale, _) = await restarted.PostAsync("/api/admin/bootstrap", new { token = first, email = "root@example.com", password = "correct horse battery" });
            Assert.Equal(HttpStatusCode.BadRequest, stale);
            var (created, body) = await restarted.PostAsync("/api/admin/bootstrap", new { token = second, email = "root@example.com", password = "correct horse battery" });
            Assert.True(created == HttpStatusCode.Created, body.ToString());
        }

        TestDatabases.Remove(Path.GetDirectoryName(database)!);
    }

    [Fact]
    public async Task ConfiguredAdmin_CreatedAtFirstStartWithoutAToken()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite,
            options: new PlatformOptions { AdminEmail = "ops@example.com", AdminPassword = "configured long password" });
        Assert.Null(stack.Host.BootstrapToken);
        var (status, tokens) = await stack.PostAsync("/api/auth/token", new { email = "ops@example.com", password = "configured long password" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await stack.GetAsync("/api/admin/orgs", tokens.GetProperty("access_token").GetString()!)).Status);
        Assert.DoesNotContain("configured long password", stack.Logs.AllText, StringComparison.Ordinal);
    }
}

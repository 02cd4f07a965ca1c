using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Dapper;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Api;

/// <summary>End to end over real sockets: the platform's run command's host, the bundled model, a real database.</summary>
public abstract class PlatformHttpTests : IAsyncLifetime
{
    private PlatformStack _stack = null!;

    protected abstract DatabaseKind Kind { get; }

    public async Task InitializeAsync()
    {
        if (Kind == DatabaseKind.Sqlite || PostgresServer.SkipReason is null)
        {
            _stack = await PlatformStack.StartAsync(Kind);
        }
    }

    public async Task DisposeAsync()
    {
        if (_stack is not null)
        {
            Assert.Empty(_stack.Logs.Errors);
            Assert.DoesNotContain(_stack.Logs.Lines, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && l.Category.StartsWith("Inference.Platform", StringComparison.Ordinal));
            await _stack.DisposeAsync();
        }
    }

    [DbFact]
    public async Task SignUpToChat_UsageReachesTheLedgerAndARevokedKeyIsRefusedWithin5SecondsOnAnotherReplica()
    {
        var (_, token) = await _stack.SignUpAsync("kim@example.com");
        string org = await _stack.CreateOrgAsync(token, "Hanbit School");
        var (keyId, secret) = await _stack.CreateKeyAsync(token, org);
        Assert.StartsWith("sk-", secret, StringComparison.Ordinal);
        // Enterprise limits, so that the polling below meets the revocation, not a rate limit.
        Assert.Equal(HttpStatusCode.OK, (await _stack.SendAsync(HttpMethod.Put, $"/api/orgs/{org}/plan", new { plan = "enterprise" }, token)).Status);

        var (status, completion) = await _stack.ChatAsync(secret);
        Assert.Equal(HttpStatusCode.OK, status);
        long total = completion.GetProperty("usage").GetProperty("total_tokens").GetInt64();

        var (_, usage) = await _stack.GetAsync($"/api/orgs/{org}/usage", token);
        Assert.Equal(1, usage.GetProperty("requests").GetInt64());
        Assert.Equal(total, usage.GetProperty("billable_tokens").GetInt64());

        // A second replica on the same database serves the same key.
        await using PlatformStack replica = await PlatformStack.StartAsync(Kind, _stack.Database);
        var (replicaStatus, replicaBody) = await replica.ChatAsync(secret);
        Assert.True(replicaStatus == HttpStatusCode.OK, replicaBody.ToString());

        var (revokeStatus, revoked) = await _stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}/keys/{keyId}", token: token);
        Assert.Equal(HttpStatusCode.OK, revokeStatus);
        Assert.Equal("revoked", revoked.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _stack.ChatAsync(secret)).Status); // this replica reloads at once
        var clock = Stopwatch.StartNew();
        HttpStatusCode onReplica;
        while ((onReplica = (await replica.ChatAsync(secret, maxTokens: 1)).Status) != HttpStatusCode.Unauthorized && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, onReplica);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the replica refused the revoked key after {clock.Elapsed}");

        var (_, after) = await _stack.GetAsync($"/api/orgs/{org}/usage", token);
        Assert.True(after.GetProperty("requests").GetInt64() >= 2); // the replica's requests are in the same ledger
        var (_, key) = await _stack.GetAsync($"/api/orgs/{org}/keys/{keyId}", token);
        Assert.False(key.TryGetProperty("secret", out _));
    }

    [DbFact]
    public async Task TenantIsolation_EveryEndpointWithAnotherOrganizationsIds_Is404AndChangesNothing()
    {
        var (_, tokenA) = await _stack.SignUpAsync("a@example.com");
        string orgA = await _stack.CreateOrgAsync(tokenA, "A");
        var (userB, tokenB) = await _stack.SignUpAsync("b@example.com");
        string orgB = await _stack.CreateOrgAsync(tokenB, "B");
        var (keyB, secretB) = await _stack.CreateKeyAsync(tokenB, orgB);
        var (_, appB) = await _stack.PostAsync($"/api/orgs/{orgB}/apps", new { name = "tutor" }, tokenB);
        var (_, invitation) = await _stack.PostAsync($"/api/orgs/{orgB}/invitations", new { email = "c@example.com", role = "developer" }, tokenB);
        string invitationB = invitation.GetProperty("id").GetString()!;
        await _stack.SendAsync(HttpMethod.Put, $"/api/orgs/{orgB}/plan", new { plan = "basic" }, tokenB);
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(secretB)).Status);
        string invoiceB = await IssueInvoiceAsync(orgB);
        await _stack.Host.Services.Get<Inference.Platform.Keys.PlatformKeyStore>().RefreshAsync(default); // B's key's last use is written now, not mid-test
        string before = await SnapshotAsync(orgB, tokenB);

        var values = new Dictionary<string, string> { ["orgId"] = orgB, ["keyId"] = keyB, ["userId"] = userB, ["invitationId"] = invitationB, ["invoiceId"] = invoiceB, ["appId"] = appB.GetProperty("id").GetString()!, ["version:int"] = "1" };
        // A valid body for every endpoint that takes one, so only authorization can refuse.
        var bodies = new Dictionary<string, object>
        {
            ["PATCH /api/orgs/{orgId}"] = new { name = "taken over" },
            ["PATCH /api/orgs/{orgId}/members/{userId}"] = new { role = "viewer" },
            ["POST /api/orgs/{orgId}/invitations"] = new { email = "x@example.com", role = "admin" },
            ["POST /api/orgs/{orgId}/keys"] = new { name = "stolen" },
            ["POST /api/orgs/{orgId}/apps"] = new { name = "stolen" },
            ["POST /api/orgs/{orgId}/apps/from-template"] = new { name = "stolen", template = "tutor" },
            ["PUT /api/orgs/{orgId}/apps/{appId}/draft"] = new { title = "taken over", prompt = "hi" },
            ["POST /api/orgs/{orgId}/apps/{appId}/releases"] = new { },
            ["PUT /api/orgs/{orgId}/apps/{appId}/published"] = new { version = 1 },
            ["PUT /api/orgs/{orgId}/apps/{appId}/access"] = new { allowed_origins = new[] { "https://evil.example" }, requests_per_minute = 5, monthly_tokens = 100 },
            ["PUT /api/orgs/{orgId}/plan"] = new { plan = "enterprise" },
            ["PUT /api/orgs/{orgId}/budget"] = new { monthly_budget_krw = 1, hard_stop = true },
            ["PUT /api/admin/orgs/{orgId}/limits"] = new { limits = new { requests_per_minute = 1 } },
            ["POST /api/admin/orgs/{orgId}/invoices/{invoiceId}/payments"] = new { reference = "x" },
        };
        var endpoints = Endpoints().Where(e => e.Pattern.Contains("{orgId}", StringComparison.Ordinal)).ToList();
        Assert.True(endpoints.Count >= 20, $"only {endpoints.Count} organization endpoints found");
        foreach (var (method, pattern) in endpoints)
        {
            string path = values.Aggregate(pattern, (p, v) => p.Replace("{" + v.Key + "}", v.Value, StringComparison.Ordinal));
            Assert.DoesNotContain("{", path, StringComparison.Ordinal);
            bool takesBody = method is "POST" or "PUT" or "PATCH" && !pattern.EndsWith("/pay", StringComparison.Ordinal);
            Assert.True(!takesBody || bodies.ContainsKey($"{method} {pattern}"), $"no body for {method} {pattern}: add one so the test covers it");
            var (status, problem) = await _stack.SendAsync(new HttpMethod(method), path, takesBody ? bodies[$"{method} {pattern}"] : null, tokenA);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path} with another organization's token: {(int)status} {problem}");
        }

        Assert.Equal(before, await SnapshotAsync(orgB, tokenB));
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(secretB)).Status); // B's key still works
        Assert.Equal(HttpStatusCode.OK, (await _stack.GetAsync($"/api/orgs/{orgA}", tokenA)).Status);
    }

    [DbFact]
    public async Task AppScopedKeys_UsageCountsPerAppAndArchivingTheAppRevokesItsKeys()
    {
        var (_, token) = await _stack.SignUpAsync("teacher@example.com");
        string org = await _stack.CreateOrgAsync(token, "School");
        var (created, app) = await _stack.PostAsync($"/api/orgs/{org}/apps", new { name = "Math tutor" }, token);
        Assert.Equal(HttpStatusCode.Created, created);
        string appId = app.GetProperty("id").GetString()!;
        var (keyStatus, appKey) = await _stack.PostAsync($"/api/orgs/{org}/keys", new { name = "tutor page", app_id = appId }, token);
        Assert.Equal(HttpStatusCode.Created, keyStatus);
        Assert.Equal(appId, appKey.GetProperty("app_id").GetString());
        string appSecret = appKey.GetProperty("secret").GetString()!;
        var (_, orgSecret) = await _stack.CreateKeyAsync(token, org, "backend");

        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(appSecret, maxTokens: 3)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(orgSecret, maxTokens: 3)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(orgSecret, maxTokens: 3)).Status);
        var (_, all) = await _stack.GetAsync($"/api/orgs/{org}/usage", token);
        var (_, perApp) = await _stack.GetAsync($"/api/orgs/{org}/usage?app_id={appId}", token);
        Assert.Equal(3, all.GetProperty("requests").GetInt64());
        Assert.Equal(1, perApp.GetProperty("requests").GetInt64());
        Assert.Equal(appId, perApp.GetProperty("app_id").GetString());

        // Another organization's app: not a scope this organization's keys can take, and its usage is not found.
        var (_, other) = await _stack.SignUpAsync("other@example.com");
        string otherOrg = await _stack.CreateOrgAsync(other, "Other");
        var (badStatus, problem) = await _stack.PostAsync($"/api/orgs/{otherOrg}/keys", new { name = "x", app_id = appId }, other);
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Equal("app_id", problem.GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _stack.GetAsync($"/api/orgs/{otherOrg}/usage?app_id={appId}", other)).Status);

        var (archived, archivedApp) = await _stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}/apps/{appId}", token: token);
        Assert.Equal(HttpStatusCode.OK, archived);
        Assert.True(archivedApp.TryGetProperty("archived_at", out _));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _stack.ChatAsync(appSecret, maxTokens: 1)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(orgSecret, maxTokens: 1)).Status);
        var (afterStatus, _) = await _stack.PostAsync($"/api/orgs/{org}/keys", new { name = "again", app_id = appId }, token);
        Assert.Equal(HttpStatusCode.BadRequest, afterStatus);
    }

    [DbFact]
    public async Task DeleteOrganization_OwnerWithItsName_RevokesKeysRemovesMembersAndKeepsTheLedger()
    {
        var (_, owner) = await _stack.SignUpAsync("boss@example.com");
        string org = await _stack.CreateOrgAsync(owner, "Closing Shop");
        var (_, invite) = await _stack.PostAsync($"/api/orgs/{org}/invitations", new { email = "adm@example.com", role = "admin" }, owner);
        var (_, admin) = await _stack.SignUpAsync("adm@example.com");
        await _stack.PostAsync("/api/invitations/accept", new { token = invite.GetProperty("token").GetString() }, admin);
        var (_, secret) = await _stack.CreateKeyAsync(owner, org);
        Assert.Equal(HttpStatusCode.OK, (await _stack.ChatAsync(secret, maxTokens: 2)).Status);

        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}?confirm_name=Closing%20Shop", token: admin)).Status);
        var (wrong, problem) = await _stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}?confirm_name=closing%20shop", token: owner);
        Assert.Equal(HttpStatusCode.BadRequest, wrong);
        Assert.Equal("confirm_name", problem.GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await _stack.SendAsync(HttpMethod.Delete, $"/api/orgs/{org}?confirm_name=Closing%20Shop", token: owner)).Status);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _stack.ChatAsync(secret, maxTokens: 1)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await _stack.GetAsync($"/api/orgs/{org}", owner)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await _stack.GetAsync($"/api/orgs/{org}", admin)).Status);
        var (_, mine) = await _stack.GetAsync("/api/orgs", owner);
        Assert.Empty(mine.GetProperty("data").EnumerateArray());
        await using var connection = await _stack.Host.Services.Database.OpenAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM usage_records WHERE org_id = @org", new { org }));
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_events WHERE org_id = @org AND action = 'organization.deleted'", new { org }));
    }

    [DbFact]
    public async Task Roles_ViewerAndDeveloper_CannotDoWhatNeedsAdmin()
    {
        var (_, owner) = await _stack.SignUpAsync("owner@example.com");
        string org = await _stack.CreateOrgAsync(owner, "School");
        async Task<string> MemberAsync(string email, string role)
        {
            var (_, invite) = await _stack.PostAsync($"/api/orgs/{org}/invitations", new { email, role }, owner);
            var (_, token) = await _stack.SignUpAsync(email);
            Assert.Equal(HttpStatusCode.OK, (await _stack.PostAsync("/api/invitations/accept", new { token = invite.GetProperty("token").GetString() }, token)).Status);
            return token;
        }

        string viewer = await MemberAsync("viewer@example.com", "viewer");
        string developer = await MemberAsync("dev@example.com", "developer");
        Assert.Equal(HttpStatusCode.OK, (await _stack.GetAsync($"/api/orgs/{org}", viewer)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _stack.GetAsync($"/api/orgs/{org}/usage", viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.PostAsync($"/api/orgs/{org}/keys", new { name = "k" }, viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.GetAsync($"/api/orgs/{org}/keys", viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.GetAsync($"/api/orgs/{org}/audit", viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.SendAsync(HttpMethod.Put, $"/api/orgs/{org}/plan", new { plan = "basic" }, viewer)).Status);
        Assert.Equal(HttpStatusCode.Created, (await _stack.PostAsync($"/api/orgs/{org}/keys", new { name = "k" }, developer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _stack.PostAsync($"/api/orgs/{org}/invitations", new { email = "z@example.com", role = "admin" }, developer)).Status);
        var (status, problem) = await _stack.GetAsync($"/api/orgs/{org}/invoices", developer);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("urn:inference:problem:forbidden", problem.GetProperty("type").GetString());

        var (_, members) = await _stack.GetAsync($"/api/orgs/{org}/members", owner);
        string ownerId = members.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "owner").GetProperty("user_id").GetString()!;
        var (lastOwner, _) = await _stack.SendAsync(HttpMethod.Patch, $"/api/orgs/{org}/members/{ownerId}", new { role = "admin" }, owner);
        Assert.Equal(HttpStatusCode.Conflict, lastOwner);
        var (_, audit) = await _stack.GetAsync($"/api/orgs/{org}/audit", owner);
        var actions = audit.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("member.invited", actions);
        Assert.Contains("member.joined", actions);
        Assert.Contains("key.created", actions);
        Assert.Contains("user.signed_in", actions); // members' account events show to owners and admins

        // A failed sign-in of a member shows in the organization's log and in the member's own.
        await _stack.PostAsync("/api/auth/token", new { email = "viewer@example.com", password = "not the password" });
        (_, audit) = await _stack.GetAsync($"/api/orgs/{org}/audit", owner);
        Assert.Contains(audit.GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "user.sign_in_failed");
        var (_, own) = await _stack.GetAsync("/api/me/audit", viewer);
        Assert.Contains(own.GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "user.sign_in_failed");
        var (_, ownerOwn) = await _stack.GetAsync("/api/me/audit", owner);
        Assert.DoesNotContain(ownerOwn.GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "user.sign_in_failed");
    }

    [DbFact]
    public async Task CookieSession_UnsafeRequestsNeedTheCsrfHeaderAndCookiesAreHttpOnlyStrict()
    {
        await _stack.SignUpAsync("lee@example.com");
        using var handler = new HttpClientHandler { UseCookies = true, CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = _stack.Host.HttpAddress };
        using var signIn = await browser.PostAsync("/api/auth/session", Json(new { email = "lee@example.com", password = "correct horse battery" }));
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        string setCookie = string.Join("\n", signIn.Headers.GetValues("Set-Cookie"));
        Assert.Matches("inference_session=[^;]+;.*httponly", setCookie.ToLowerInvariant());
        Assert.Contains("samesite=strict", setCookie.ToLowerInvariant(), StringComparison.Ordinal);
        string csrf = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf_token").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/me")).StatusCode); // safe: no header needed
        using var forged = await browser.PostAsync("/api/orgs", Json(new { name = "forged" }));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Contains("csrf_failed", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/orgs") { Content = Json(new { name = "forged" }) };
        wrong.Headers.Add("X-CSRF-Token", csrf[..^1] + (csrf[^1] == 'a' ? 'b' : 'a'));
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.SendAsync(wrong)).StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Post, "/api/orgs") { Content = Json(new { name = "real" }) };
        right.Headers.Add("X-CSRF-Token", csrf);
        Assert.Equal(HttpStatusCode.Created, (await browser.SendAsync(right)).StatusCode);

        using var signOut = new HttpRequestMessage(HttpMethod.Delete, "/api/auth/session");
        signOut.Headers.Add("X-CSRF-Token", csrf);
        Assert.Equal(HttpStatusCode.NoContent, (await browser.SendAsync(signOut)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/me")).StatusCode);
    }

    [DbFact]
    public async Task Secrets_NeverInLogsNorInResponsesAfterCreation()
    {
        const string Password = "a very secret passphrase";
        var (_, token) = await _stack.SignUpAsync("secret@example.com", Password);
        string org = await _stack.CreateOrgAsync(token, "Secretive");
        var (keyId, secret) = await _stack.CreateKeyAsync(token, org);
        await _stack.ChatAsync(secret);
        await _stack.ChatAsync(secret + "wrong"); // a bad key is logged (if at all) only redacted
        var (_, refresh) = await _stack.PostAsync("/api/auth/token", new { email = "secret@example.com", password = Password });
        string refreshToken = refresh.GetProperty("refresh_token").GetString()!;
        await _stack.PostAsync("/api/auth/refresh", new { refresh_token = refreshToken });
        await _stack.PostAsync("/api/auth/refresh", new { refresh_token = refreshToken }); // reuse: family revoked, audited
        await _stack.PostAsync("/api/auth/token", new { email = "secret@example.com", password = "wrong " + Password });

        string logs = _stack.Logs.AllText;
        Assert.NotEmpty(logs);
        foreach (string value in new[] { Password, secret, secret[3..20], refreshToken, token })
        {
            Assert.DoesNotContain(value, logs, StringComparison.Ordinal);
        }

        var (_, keys) = await _stack.GetAsync($"/api/orgs/{org}/keys", token);
        var (_, key) = await _stack.GetAsync($"/api/orgs/{org}/keys/{keyId}", token);
        var (_, me) = await _stack.GetAsync("/api/me", token);
        var (_, audit) = await _stack.GetAsync($"/api/orgs/{org}/audit", token);
        foreach (JsonElement body in new[] { keys, key, me, audit })
        {
            string text = body.GetRawText();
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain("argon2", text, StringComparison.Ordinal);
        }

        // In the database too only hashes are stored.
        await using var connection = await _stack.Host.Services.Database.OpenAsync();
        string dump = string.Join("|", await connection.QueryAsync<string>("SELECT key_hash || prefix FROM api_keys")) +
            string.Join("|", await connection.QueryAsync<string>("SELECT password_hash FROM users"));
        Assert.DoesNotContain(secret, dump, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, dump, StringComparison.Ordinal);
    }

    [DbFact]
    public async Task HardStop_ConcurrentRequestsNearTheCap_NeverOvershootIt()
    {
        var (_, token) = await _stack.SignUpAsync("cap@example.com");
        string org = await _stack.CreateOrgAsync(token, "Capped");
        // A platform admin caps the organization at 300 tokens a month.
        var admin = await _stack.Host.Services.Get<Inference.Platform.Accounts.AccountService>().SignUpAsync("root@example.com", "correct horse battery", "Root", isAdmin: true);
        var (_, adminTokens) = await _stack.PostAsync("/api/auth/token", new { email = "root@example.com", password = "correct horse battery" });
        string adminToken = adminTokens.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await _stack.SendAsync(HttpMethod.Put, $"/api/admin/orgs/{org}/limits", new { limits = new { monthly_tokens = 300, concurrent_requests = 100, requests_per_minute = 1000, tokens_per_minute = 1_000_000 } }, adminToken)).Status);
        Assert.True(admin.IsAdmin);
        var (_, secret) = await _stack.CreateKeyAsync(token, org);

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => _stack.ChatAsync(secret, maxTokens: 16)));
        int ok = results.Count(r => r.Status == HttpStatusCode.OK);
        Assert.InRange(ok, 1, 15);
        Assert.All(results.Where(r => r.Status != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.Status);
            Assert.Equal("insufficient_quota", r.Body.GetProperty("error").GetProperty("code").GetString());
        });

        await Task.Delay(200); // usage records are written as each request ends
        var (_, usage) = await _stack.GetAsync($"/api/orgs/{org}/usage", token);
        Assert.True(usage.GetProperty("billable_tokens").GetInt64() <= 300, usage.GetRawText());
    }

    [DbFact]
    public async Task SignInAttempts_ManyAccountsFromOneAddress_LimitedPerMinute()
    {
        // Credential stuffing: one guess each at many accounts never trips a per-account lockout; the address limit does.
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 32; i++)
        {
            statuses.Add((await _stack.PostAsync("/api/auth/token", new { email = $"user{i}@example.com", password = "guess guess guess" })).Status);
        }

        Assert.Equal(30, statuses.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        var (status, problem) = await _stack.PostAsync("/api/auth/signup", new { email = "new@example.com", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("too_many_attempts", problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _stack.GetAsync("/api/plans", "x")).Status); // other endpoints are not limited
    }

    [DbFact]
    public async Task TwoOwnersDemotingEachOtherAtOnce_OneOwnerRemains()
    {
        var (_, first) = await _stack.SignUpAsync("first@example.com");
        string org = await _stack.CreateOrgAsync(first, "Pair");
        var (_, invite) = await _stack.PostAsync($"/api/orgs/{org}/invitations", new { email = "second@example.com", role = "owner" }, first);
        var (secondId, second) = await _stack.SignUpAsync("second@example.com");
        await _stack.PostAsync("/api/invitations/accept", new { token = invite.GetProperty("token").GetString() }, second);
        var (_, members) = await _stack.GetAsync($"/api/orgs/{org}/members", first);
        string firstId = members.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("email").GetString() == "first@example.com").GetProperty("user_id").GetString()!;

        var results = await Task.WhenAll(
            _stack.SendAsync(HttpMethod.Patch, $"/api/orgs/{org}/members/{secondId}", new { role = "admin" }, first),
            _stack.SendAsync(HttpMethod.Patch, $"/api/orgs/{org}/members/{firstId}", new { role = "admin" }, second));

        (_, members) = await _stack.GetAsync($"/api/orgs/{org}/members", first); // both stay members (one as admin)
        Assert.Equal(1, members.GetProperty("data").EnumerateArray().Count(m => m.GetProperty("role").GetString() == "owner"));
        Assert.Single(results, r => r.Status == HttpStatusCode.OK);
    }

    [DbFact]
    public async Task BadRequests_GetProblemDetailsNamingTheField()
    {
        var (status, problem) = await _stack.PostAsync("/api/auth/signup", "{\"email\":\"x@example.com\",\"password\":\"long enough pw\",\"nickname\":1}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("nickname", problem.GetProperty("field").GetString());
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal("/api/auth/signup", problem.GetProperty("instance").GetString());

        (status, problem) = await _stack.PostAsync("/api/auth/signup", "{\"email\":");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, problem) = await _stack.SendAsync(HttpMethod.Post, "/api/auth/signup", null, configure: r => r.Content = new StringContent("email=x", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        (status, problem) = await _stack.GetAsync("/api/nothing/here", "x");
        Assert.Equal(HttpStatusCode.NotFound, status);
        string? challenge = null;
        (status, problem) = await _stack.SendAsync(HttpMethod.Get, "/api/me", token: "not-a-jwt", configure: null, onResponse: r => challenge = r.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Bearer realm=\"inference-platform\", error=\"invalid_token\"", challenge);
        Assert.Equal("urn:inference:problem:unauthorized", problem.GetProperty("type").GetString());
        (status, problem) = await _stack.PostAsync("/api/auth/signup", new string('x', 70_000));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);

        // The inference API beside it keeps its OpenAI error objects.
        var (v1Status, v1) = await _stack.ChatAsync("sk-unknown");
        Assert.Equal(HttpStatusCode.Unauthorized, v1Status);
        Assert.Equal("invalid_api_key", v1.GetProperty("error").GetProperty("code").GetString());
    }

    private IEnumerable<(string Method, string Pattern)> Endpoints() =>
        _stack.Host.Gateway.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (m, e.RoutePattern.RawText!)));

    private async Task<string> IssueInvoiceAsync(string orgId)
    {
        // An issued invoice of last month for B, written as the invoice job would (its clock is the real one here).
        await using var connection = await _stack.Host.Services.Database.OpenAsync();
        string id = Ids.New("inv", DateTimeOffset.UtcNow);
        await connection.ExecuteAsync("INSERT INTO invoices (id, org_id, period, number, plan, currency, total_krw, issued_ms) VALUES (@id, @orgId, '2000-01', @number, 'basic', 'KRW', 30000, 0)",
            new { id, orgId, number = InvoiceService.NumberOf(orgId, "2000-01") });
        return id;
    }

    private async Task<string> SnapshotAsync(string org, string token)
    {
        var parts = new List<string>();
        foreach (string path in new[] { "", "/members", "/keys", "/apps", "/invitations", "/budget", "/invoices", "/audit" })
        {
            var (status, body) = await _stack.GetAsync($"/api/orgs/{org}{path}", token);
            Assert.Equal(HttpStatusCode.OK, status);
            parts.Add(body.GetRawText());
        }

        return string.Join("\n", parts);
    }

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), System.Text.Encoding.UTF8, "application/json");
}

public sealed class PlatformHttpTestsSqlite : PlatformHttpTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class PlatformHttpTestsPostgres : PlatformHttpTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Inference.Gateway.Metering;
using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Organizations;
using Inference.Platform.Tests.Infrastructure;

namespace Inference.Platform.Tests.Billing;

/// <summary>Budget alerts at 50, 80 and 100 %, once each per period, posted to a real webhook receiver with an HMAC signature.</summary>
public abstract class BudgetTests : DatabaseSuite
{

    [DbFact]
    public async Task Check_SpendCrossesThresholds_EachAlertOnceSignedAndRetriedWhileTheReceiverFails()
    {
        await using WebhookReceiver receiver = await WebhookReceiver.StartAsync();
        User owner = await Platform.Get<AccountService>().SignUpAsync("owner@example.com", "correct horse battery", "Owner");
        var orgs = Platform.Get<OrganizationService>();
        Organization org = await orgs.CreateAsync(owner, "Shop", null, default);
        await orgs.SetPlanAsync(owner, org.Id, "basic", null, default);
        var (_, secret) = await orgs.SetBudgetAsync(owner, org.Id, 50_000, false, receiver.Url.ToString(), null, default);
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var monitor = Platform.Get<BudgetMonitor>();
        var ledger = Platform.Get<UsageLedger>();

        // The fee alone (30,000 of 50,000) is 60 %: the 50 % alert.
        Assert.Equal([50], (await monitor.CheckAsync(default)).Select(a => a.ThresholdPercent));
        Assert.Empty(await monitor.CheckAsync(default));

        // 5M included + 2.2M more at 5 KRW per 1,000 = 41,000 KRW: 82 %.
        await ledger.WriteAsync(Usage("a", org.Id, 7_200_000), default);
        receiver.Failing = true;
        Assert.Equal([80], (await monitor.CheckAsync(default)).Select(a => a.ThresholdPercent));
        Assert.Single(receiver.Received);
        receiver.Failing = false;
        await ledger.WriteAsync(Usage("b", org.Id, 4_000_000), default); // 61,000 KRW: 122 %
        Assert.Equal([100], (await monitor.CheckAsync(default)).Select(a => a.ThresholdPercent));
        Assert.Empty(await monitor.CheckAsync(default));

        var received = receiver.Received;
        Assert.Equal(3, received.Count); // 50; 80 retried after the failure; 100
        var thresholds = new List<int>();
        foreach (var (signature, body) in received)
        {
            // Inference-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "UNIX.body"))
            string[] parts = signature.Split(',');
            string t = parts[0]["t=".Length..];
            string v1 = parts[1]["v1=".Length..];
            string expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret!), Encoding.UTF8.GetBytes($"{t}.{body}")));
            Assert.Equal(expected, v1);
            using JsonDocument json = JsonDocument.Parse(body);
            Assert.Equal("budget.alert", json.RootElement.GetProperty("type").GetString());
            Assert.Equal(org.Id, json.RootElement.GetProperty("organization_id").GetString());
            thresholds.Add(json.RootElement.GetProperty("threshold_percent").GetInt32());
        }

        Assert.Equal([50, 80, 100], thresholds.Order());
        var alerts = await monitor.ListAsync(org.Id, default);
        Assert.Equal(3, alerts.Count);
        Assert.All(alerts, a => Assert.NotNull(a.DeliveredAt));
        Assert.Equal(2, alerts.Single(a => a.ThresholdPercent == 80).Attempts);

        // A new period starts over.
        Platform.Time.SetUtcNow(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal([50], (await monitor.CheckAsync(default)).Select(a => a.ThresholdPercent));
    }

    [DbFact]
    public async Task StripeWebhook_SignedPaymentSucceeded_MarksTheInvoicePaidOnceAndABadSignatureIsRefused()
    {
        const string WebhookSecret = "whsec_test_secret";
        await using TestPlatform platform = await TestPlatform.StartAsync(Kind, new Hosting.PlatformOptions { StripeWebhookSecret = WebhookSecret });
        User owner = await platform.Get<AccountService>().SignUpAsync("owner@example.com", "correct horse battery", "Owner");
        var orgs = platform.Get<OrganizationService>();
        Organization org = await orgs.CreateAsync(owner, "Shop", null, default);
        await orgs.SetPlanAsync(owner, org.Id, "premium", null, default);
        platform.Time.SetUtcNow(new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero));
        Invoice invoice = Assert.Single(await platform.Get<InvoiceService>().IssueAsync("2026-10", default));
        Assert.Equal(50_000, invoice.TotalKrw);

        string payload = """
            {"id":"evt_1","object":"event","api_version":"2025-01-27.acacia","created":1,"type":"payment_intent.succeeded","livemode":false,"pending_webhooks":1,
             "data":{"object":{"id":"pi_1","object":"payment_intent","amount":50000,"amount_received":50000,"currency":"krw","status":"succeeded",
             "metadata":{"invoice_id":"INVOICE","organization_id":"ORG"}}}}
            """.Replace("INVOICE", invoice.Id, StringComparison.Ordinal).Replace("ORG", org.Id, StringComparison.Ordinal);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds(); // Stripe.net checks the tolerance against the real clock
        string signature = $"t={now.ToString(CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookSecret), Encoding.UTF8.GetBytes($"{now}.{payload}")))}";
        var payments = platform.Get<PaymentService>();

        var bad = await Assert.ThrowsAsync<Inference.Platform.Api.PlatformException>(() => payments.HandleStripeWebhookAsync(payload.Replace("50000", "5", StringComparison.Ordinal), signature, default));
        Assert.Equal("Stripe-Signature", bad.Field);
        Assert.Equal("open", (await platform.Get<InvoiceService>().GetAsync(org.Id, invoice.Id!, default)).Status);

        Assert.Equal("recorded", await payments.HandleStripeWebhookAsync(payload, signature, default));
        Assert.Equal("duplicate", await payments.HandleStripeWebhookAsync(payload, signature, default));
        Assert.Equal("paid", (await platform.Get<InvoiceService>().GetAsync(org.Id, invoice.Id!, default)).Status);
    }

    private UsageRecord Usage(string id, string org, long tokens) => new(id, "k", org, "m", tokens / 2, tokens - (tokens / 2), 0, null, null,
        TimeSpan.FromSeconds(1), UsageStatus.Completed, "stop", "chat.completions", false, Platform.Time.GetUtcNow());
}

public sealed class BudgetTestsSqlite : BudgetTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[RequiresPostgres]
public sealed class BudgetTestsPostgres : BudgetTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

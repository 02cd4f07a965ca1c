using System.Data.Common;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Inference.Platform.Data;
using Inference.Platform.Organizations;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Billing;

/// <summary>
/// Checks each organization's spend this month (plan fee plus overage so far) against its budget and raises an alert
/// at 50, 80 and 100 %: once per period and threshold (the alert's primary key), shown in the API and posted to the
/// organization's webhook, signed with HMAC-SHA256 over "{timestamp}.{body}" in the header
/// <c>Inference-Signature: t={unix seconds},v1={hex}</c>. Undelivered alerts are retried at each check (up to 10 tries).
/// </summary>
public sealed partial class BudgetMonitor(PlatformDatabase database, UsageLedger ledger, HttpClient http, TimeProvider time, ILogger<BudgetMonitor> logger)
{
    public const string SignatureHeader = "Inference-Signature";
    private const int MaxAttempts = 10;
    private static readonly int[] Thresholds = [50, 80, 100];

    /// <summary>Raises due alerts and delivers pending ones; returns the alerts raised by this call.</summary>
    public async Task<IReadOnlyList<BudgetAlert>> CheckAsync(CancellationToken ct)
    {
        DateTimeOffset now = time.GetUtcNow();
        string period = UsageLedger.PeriodOf(now);
        IReadOnlyDictionary<string, long> tokens = await ledger.BudgetedTokensAsync(period, ct).ConfigureAwait(false);
        var raised = new List<BudgetAlert>();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var orgs = await connection.QueryAsync<OrganizationService.OrgRow>("SELECT * FROM organizations WHERE budget_krw IS NOT NULL AND deleted_ms IS NULL").ConfigureAwait(false);
        foreach (OrganizationService.OrgRow row in orgs)
        {
            Organization org = row.ToOrganization();
            long budget = org.BudgetKrw!.Value;
            long spend = InvoiceService.Draft(org, period, tokens.GetValueOrDefault(org.Id)).TotalKrw;
            foreach (int threshold in Thresholds)
            {
                // spend / budget >= threshold %, in integers (budget 0: any spend reaches every threshold).
                if (spend * 100 < (long)threshold * budget || (budget == 0 && spend == 0))
                {
                    continue;
                }

                int inserted = await connection.ExecuteAsync(
                    "INSERT INTO budget_alerts (org_id, period, threshold, spend_krw, budget_krw, created_ms) VALUES (@Id, @period, @t, @spend, @budget, @now) ON CONFLICT DO NOTHING",
                    new { org.Id, period, t = (long)threshold, spend, budget, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
                if (inserted == 1)
                {
                    LogAlert(logger, org.Id, threshold, spend, budget);
                    raised.Add(new BudgetAlert(org.Id, period, threshold, spend, budget, now, null, 0, null));
                }
            }
        }

        await DeliverAsync(connection, ct).ConfigureAwait(false);
        return raised;
    }

    /// <summary>The organization's alerts, newest first.</summary>
    public async Task<IReadOnlyList<BudgetAlert>> ListAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<AlertRow>("SELECT * FROM budget_alerts WHERE org_id = @orgId ORDER BY period DESC, threshold DESC", new { orgId }).ConfigureAwait(false))
            .Select(r => r.ToAlert()).ToList();
    }

    /// <summary>The signature header value of <paramref name="body"/> at <paramref name="unixSeconds"/>.</summary>
    public static string Sign(string secret, long unixSeconds, string body)
    {
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{unixSeconds.ToString(CultureInfo.InvariantCulture)}.{body}"));
        return $"t={unixSeconds.ToString(CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(mac)}";
    }

    private async Task DeliverAsync(DbConnection connection, CancellationToken ct)
    {
        var pending = await connection.QueryAsync<PendingRow>(
            "SELECT a.org_id, a.period, a.threshold, a.spend_krw, a.budget_krw, a.created_ms, a.attempts, o.webhook_url, o.webhook_secret FROM budget_alerts a JOIN organizations o ON o.id = a.org_id WHERE a.delivered_ms IS NULL AND a.attempts < @max AND o.webhook_url IS NOT NULL",
            new { max = (long)MaxAttempts }).ConfigureAwait(false);
        foreach (PendingRow alert in pending)
        {
            string body = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["type"] = "budget.alert",
                ["organization_id"] = alert.OrgId,
                ["period"] = alert.Period,
                ["threshold_percent"] = alert.Threshold,
                ["spend_krw"] = alert.SpendKrw,
                ["budget_krw"] = alert.BudgetKrw,
                ["created_at"] = DateTimeOffset.FromUnixTimeMilliseconds(alert.CreatedMs).ToString("O", CultureInfo.InvariantCulture),
            });
            string? error = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, alert.WebhookUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(alert.WebhookSecret ?? string.Empty, time.GetUtcNow().ToUnixTimeSeconds(), body));
                request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Inference-Platform", "1.0"));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                using HttpResponseMessage response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    error = $"HTTP {(int)response.StatusCode}";
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                error = ex.Message;
            }

            await connection.ExecuteAsync(
                "UPDATE budget_alerts SET attempts = attempts + 1, last_error = @error, delivered_ms = CASE WHEN @error IS NULL THEN @now ELSE NULL END WHERE org_id = @OrgId AND period = @Period AND threshold = @Threshold",
                new { error, now = time.GetUtcNow().ToUnixTimeMilliseconds(), alert.OrgId, alert.Period, alert.Threshold }).ConfigureAwait(false);
            if (error is not null)
            {
                LogWebhookFailed(logger, alert.OrgId, (int)alert.Threshold, error);
            }
        }
    }

    private class AlertRow
    {
        public string OrgId { get; set; } = "";
        public string Period { get; set; } = "";
        public long Threshold { get; set; }
        public long SpendKrw { get; set; }
        public long BudgetKrw { get; set; }
        public long CreatedMs { get; set; }
        public long? DeliveredMs { get; set; }
        public long Attempts { get; set; }
        public string? LastError { get; set; }

        public BudgetAlert ToAlert() => new(OrgId, Period, (int)Threshold, SpendKrw, BudgetKrw, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs),
            DeliveredMs is { } d ? DateTimeOffset.FromUnixTimeMilliseconds(d) : null, (int)Attempts, LastError);
    }

    private sealed class PendingRow : AlertRow
    {
        public string WebhookUrl { get; set; } = "";
        public string? WebhookSecret { get; set; }
    }

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Budget alert for {OrgId}: {Threshold} % reached ({Spend} of {Budget} KRW)")]
    private static partial void LogAlert(ILogger logger, string orgId, int threshold, long spend, long budget);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "Budget alert webhook of {OrgId} ({Threshold} %) failed: {Error}; retried at the next check")]
    private static partial void LogWebhookFailed(ILogger logger, string orgId, int threshold, string error);
}

using System.Data.Common;
using System.Globalization;
using Dapper;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Inference.Platform.Organizations;

namespace Inference.Platform.Billing;

/// <summary>
/// Monthly invoices: the plan's fee plus overage (billable tokens beyond the plan's included tokens at its price per
/// 1,000), in whole won. Issuing is idempotent (one invoice per organization and period, numbered from both), so
/// re-running the job changes nothing, and an issued invoice is never updated: payments are separate rows.
/// The plan billed is the organization's plan when the invoice is issued; a plan's fee is not prorated.
/// </summary>
public sealed class InvoiceService(PlatformDatabase database, UsageLedger ledger, OrganizationService organizations, AuditLog audit, TimeProvider time)
{
    /// <summary>What the invoice of <paramref name="org"/> for <paramref name="period"/> would be with <paramref name="billableTokens"/>.</summary>
    public static Invoice Draft(Organization org, string period, long billableTokens)
    {
        Plan plan = Plans.Find(org.Plan) ?? Plans.Free;
        var lines = new List<InvoiceLine>();
        if (plan.MonthlyFeeKrw > 0)
        {
            lines.Add(new InvoiceLine(1, $"{plan.Name} plan, {period}", 1, $"{Money.Format(plan.MonthlyFeeKrw)} / month", plan.MonthlyFeeKrw));
        }

        long overage = Math.Max(0, billableTokens - plan.IncludedTokens);
        if (overage > 0 && plan.OveragePer1kTokensKrw > 0)
        {
            lines.Add(new InvoiceLine(lines.Count + 1, $"Tokens beyond the {plan.IncludedTokens.ToString("#,0", CultureInfo.InvariantCulture)} included", overage,
                $"{Money.Format(plan.OveragePer1kTokensKrw)} / 1,000 tokens", Money.TokensPrice(overage, plan.OveragePer1kTokensKrw)));
        }

        return new Invoice(null, org.Id, period, NumberOf(org.Id, period), plan.Id, lines.Sum(l => l.AmountKrw), null, lines);
    }

    /// <summary>The running total of the current (or any) period, not stored.</summary>
    public async Task<Invoice> DraftAsync(string orgId, string period, CancellationToken ct)
    {
        Organization org = await organizations.GetAsync(orgId, ct).ConfigureAwait(false);
        IReadOnlyDictionary<string, long> tokens = await ledger.TokensByOrgAsync(period, ct).ConfigureAwait(false);
        return Draft(org, period, tokens.GetValueOrDefault(orgId));
    }

    /// <summary>
    /// Issues the invoices of a finished period for every organization with something to bill; returns the ones
    /// issued now (none when the job already ran).
    /// </summary>
    public async Task<IReadOnlyList<Invoice>> IssueAsync(string period, CancellationToken ct)
    {
        if (!DateTime.TryParseExact(period, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            throw PlatformException.Invalid("period", "period must be a month such as 2026-11.");
        }

        if (string.CompareOrdinal(period, UsageLedger.PeriodOf(time.GetUtcNow())) >= 0)
        {
            throw PlatformException.Invalid("period", $"period {period} has not ended yet; invoices are issued for finished months.");
        }

        IReadOnlyDictionary<string, long> tokens = await ledger.TokensByOrgAsync(period, ct).ConfigureAwait(false);
        var issued = new List<Invoice>();
        foreach (Organization org in await organizations.ListAllAsync(ct, includeDeleted: true).ConfigureAwait(false))
        {
            if (string.CompareOrdinal(UsageLedger.PeriodOf(org.CreatedAt), period) > 0
                || (org.DeletedAt is { } deleted && string.CompareOrdinal(UsageLedger.PeriodOf(deleted), period) < 0))
            {
                continue; // did not exist in that period
            }

            Invoice draft = Draft(org, period, tokens.GetValueOrDefault(org.Id));
            if (draft.TotalKrw == 0)
            {
                continue;
            }

            DateTimeOffset now = time.GetUtcNow();
            string id = Ids.New("inv", now);
            await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
            await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            int inserted = await connection.ExecuteAsync(
                "INSERT INTO invoices (id, org_id, period, number, plan, currency, total_krw, issued_ms) VALUES (@id, @OrgId, @Period, @Number, @Plan, 'KRW', @TotalKrw, @now) ON CONFLICT DO NOTHING",
                new { id, draft.OrgId, draft.Period, draft.Number, draft.Plan, draft.TotalKrw, now = now.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
            if (inserted == 0)
            {
                await tx.RollbackAsync(ct).ConfigureAwait(false);
                continue; // already issued: immutable
            }

            foreach (InvoiceLine line in draft.Lines)
            {
                await connection.ExecuteAsync(
                    "INSERT INTO invoice_lines (invoice_id, line_no, description, quantity, unit_price, amount_krw) VALUES (@id, @no, @Description, @Quantity, @UnitPrice, @AmountKrw)",
                    new { id, no = (long)line.LineNo, line.Description, line.Quantity, line.UnitPrice, line.AmountKrw }, tx).ConfigureAwait(false);
            }

            await audit.WriteAsync(AuditAction.InvoiceIssued, org.Id, null, id, $"{draft.Number}: {Money.Format(draft.TotalKrw)}", null, connection, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            issued.Add(draft with { Id = id, IssuedAt = now, Status = "open" });
        }

        return issued;
    }

    public async Task<IReadOnlyList<Invoice>> ListAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<InvoiceRow>("SELECT * FROM invoices WHERE org_id = @orgId ORDER BY period DESC", new { orgId }).ConfigureAwait(false)).ToList();
        var result = new List<Invoice>(rows.Count);
        foreach (InvoiceRow row in rows)
        {
            result.Add(await LoadAsync(connection, row).ConfigureAwait(false));
        }

        return result;
    }

    /// <summary>The invoice; 404 when it does not belong to <paramref name="orgId"/>.</summary>
    public async Task<Invoice> GetAsync(string orgId, string invoiceId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        InvoiceRow row = await connection.QuerySingleOrDefaultAsync<InvoiceRow>("SELECT * FROM invoices WHERE id = @invoiceId AND org_id = @orgId", new { invoiceId, orgId }).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The invoice");
        return await LoadAsync(connection, row).ConfigureAwait(false);
    }

    /// <summary>The number of an organization's invoice for a period: the same whoever issues it, however often.</summary>
    public static string NumberOf(string orgId, string period) =>
        $"INV-{period.Replace("-", string.Empty, StringComparison.Ordinal)}-{orgId[(orgId.IndexOf('_', StringComparison.Ordinal) + 1)..].ToUpperInvariant()}";

    private static async Task<Invoice> LoadAsync(DbConnection connection, InvoiceRow row)
    {
        var lines = (await connection.QueryAsync<LineRow>("SELECT * FROM invoice_lines WHERE invoice_id = @Id ORDER BY line_no", new { row.Id }).ConfigureAwait(false))
            .Select(l => new InvoiceLine((int)l.LineNo, l.Description, l.Quantity, l.UnitPrice, l.AmountKrw)).ToList();
        long paid = await connection.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount_krw), 0) FROM payments WHERE invoice_id = @Id AND status = 'succeeded'", new { row.Id }).ConfigureAwait(false);
        return new Invoice(row.Id, row.OrgId, row.Period, row.Number, row.Plan, row.TotalKrw, DateTimeOffset.FromUnixTimeMilliseconds(row.IssuedMs), lines,
            paid >= row.TotalKrw ? "paid" : "open");
    }

    private sealed class InvoiceRow
    {
        public string Id { get; set; } = "";
        public string OrgId { get; set; } = "";
        public string Period { get; set; } = "";
        public string Number { get; set; } = "";
        public string Plan { get; set; } = "";
        public string Currency { get; set; } = "";
        public long TotalKrw { get; set; }
        public long IssuedMs { get; set; }
    }

    private sealed class LineRow
    {
        public string InvoiceId { get; set; } = "";
        public long LineNo { get; set; }
        public string Description { get; set; } = "";
        public long Quantity { get; set; }
        public string UnitPrice { get; set; } = "";
        public long AmountKrw { get; set; }
    }
}

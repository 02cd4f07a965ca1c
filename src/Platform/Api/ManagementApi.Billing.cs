using System.Globalization;
using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Inference.Scheduler;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    private static void MapBilling(RouteGroupBuilder api)
    {
        api.MapGet("/plans", () => Json(new ListResponse<PlanResponse>(Plans.All.Select(p =>
            new PlanResponse(p.Id, p.Name, p.MonthlyFeeKrw, p.IncludedTokens, p.OveragePer1kTokensKrw, p.Limits, PriorityName(p.Priority))).ToList())))
            .Produces<ListResponse<PlanResponse>>().WithSummary("The plans (public)");

        api.MapPut("/orgs/{orgId}/plan", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ManageBilling, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<PlanRequest>(ctx).ConfigureAwait(false);
            Organization org = await orgs.SetPlanAsync(user, orgId, body.Plan, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false);
            return Json(ToResponse(org, role));
        }).Accepts<PlanRequest>("application/json").Produces<OrganizationResponse>().WithSummary("Change the plan (applies to the gateway within 5 s)");

        api.MapGet("/orgs/{orgId}/usage", async (HttpContext ctx, string orgId, string? from, string? to, string? app_id, OrganizationService orgs, Apps.AppService apps, UsageLedger ledger, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadUsage, ctx.RequestAborted).ConfigureAwait(false);
            if (app_id is not null)
            {
                await apps.GetAsync(orgId, app_id, ctx.RequestAborted).ConfigureAwait(false); // 404 for another organization's app
            }

            DateOnly today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            DateOnly first = ParseDay(from, "from") ?? new DateOnly(today.Year, today.Month, 1);
            DateOnly last = ParseDay(to, "to") ?? today;
            if (last < first || last.DayNumber - first.DayNumber > 366)
            {
                throw PlatformException.Invalid("to", "to must be on or after from, at most 366 days later.");
            }

            var days = await ledger.DailyAsync(orgId, new DateTimeOffset(first.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero),
                new DateTimeOffset(last.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), ctx.RequestAborted, app_id).ConfigureAwait(false);
            return Json(new UsageResponse(first, last, app_id, days.Sum(d => d.Requests), days.Sum(d => d.PromptTokens), days.Sum(d => d.CompletionTokens), days.Sum(d => d.BillableTokens), days));
        }).Produces<UsageResponse>().WithSummary("Usage per UTC day (from/to: yyyy-MM-dd, inclusive; default this month; app_id: only that app's keys)");

        api.MapGet("/orgs/{orgId}/invoices", async (HttpContext ctx, string orgId, OrganizationService orgs, InvoiceService invoices) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadBilling, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<Invoice>(await invoices.ListAsync(orgId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<Invoice>>().WithSummary("Issued invoices");

        api.MapGet("/orgs/{orgId}/invoices/upcoming", async (HttpContext ctx, string orgId, OrganizationService orgs, InvoiceService invoices, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadBilling, ctx.RequestAborted).ConfigureAwait(false);
            return Json(await invoices.DraftAsync(orgId, UsageLedger.PeriodOf(time.GetUtcNow()), ctx.RequestAborted).ConfigureAwait(false));
        }).Produces<Invoice>().WithSummary("This month's invoice so far (a draft)");

        api.MapGet("/orgs/{orgId}/invoices/{invoiceId}", async (HttpContext ctx, string orgId, string invoiceId, OrganizationService orgs, InvoiceService invoices) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadBilling, ctx.RequestAborted).ConfigureAwait(false);
            return Json(await invoices.GetAsync(orgId, invoiceId, ctx.RequestAborted).ConfigureAwait(false));
        }).Produces<Invoice>().WithSummary("An invoice");

        api.MapPost("/orgs/{orgId}/invoices/{invoiceId}/pay", async (HttpContext ctx, string orgId, string invoiceId, OrganizationService orgs, PaymentService payments) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageBilling, ctx.RequestAborted).ConfigureAwait(false);
            return Json(await payments.StartAsync(orgId, invoiceId, ctx.RequestAborted).ConfigureAwait(false));
        }).Produces<PaymentStart>().WithSummary("Start paying an invoice through the payment provider");

        api.MapGet("/orgs/{orgId}/budget", async (HttpContext ctx, string orgId, OrganizationService orgs, InvoiceService invoices, BudgetMonitor budgets, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadBilling, ctx.RequestAborted).ConfigureAwait(false);
            return Json(await BudgetAsync(ctx, orgId, orgs, invoices, budgets, time, null).ConfigureAwait(false));
        }).Produces<BudgetResponse>().WithSummary("Budget, spend this month and alerts");

        api.MapPut("/orgs/{orgId}/budget", async (HttpContext ctx, string orgId, OrganizationService orgs, InvoiceService invoices, BudgetMonitor budgets, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageBilling, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<BudgetRequest>(ctx).ConfigureAwait(false);
            var (_, secret) = await orgs.SetBudgetAsync(user, orgId, body.MonthlyBudgetKrw, body.HardStop, body.WebhookUrl, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false);
            return Json(await BudgetAsync(ctx, orgId, orgs, invoices, budgets, time, secret).ConfigureAwait(false));
        }).Accepts<BudgetRequest>("application/json").Produces<BudgetResponse>().WithSummary("Set the monthly budget, hard stop and alert webhook (its signing secret is returned once)");

        api.MapPost("/payments/stripe/webhook", async (HttpContext ctx, PaymentService payments) =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            string body = await reader.ReadToEndAsync(ctx.RequestAborted).ConfigureAwait(false);
            string outcome = await payments.HandleStripeWebhookAsync(body, ctx.Request.Headers["Stripe-Signature"], ctx.RequestAborted).ConfigureAwait(false);
            return Json(new Dictionary<string, string> { ["result"] = outcome });
        }).WithSummary("Stripe's webhook (signature verified)");
    }

    private static async Task<BudgetResponse> BudgetAsync(HttpContext ctx, string orgId, OrganizationService orgs, InvoiceService invoices, BudgetMonitor budgets, TimeProvider time, string? secret)
    {
        Organization org = await orgs.GetAsync(orgId, ctx.RequestAborted).ConfigureAwait(false);
        string period = UsageLedger.PeriodOf(time.GetUtcNow());
        Invoice draft = await invoices.DraftAsync(orgId, period, ctx.RequestAborted).ConfigureAwait(false);
        return new BudgetResponse(org.BudgetKrw, org.BudgetHardStop, org.WebhookUrl, period, draft.TotalKrw,
            await budgets.ListAsync(orgId, ctx.RequestAborted).ConfigureAwait(false), secret);
    }

    private static DateOnly? ParseDay(string? text, string field)
    {
        if (text is null)
        {
            return null;
        }

        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly day)
            ? day
            : throw PlatformException.Invalid(field, $"{field} must be a date such as 2026-12-01.");
    }

    private static string PriorityName(PriorityClass priority) => priority.ToString().ToLowerInvariant();
}

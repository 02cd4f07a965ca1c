using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Hosting;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    private static void MapAdmin(RouteGroupBuilder api)
    {
        api.MapPost("/admin/bootstrap", async (HttpContext ctx, AdminBootstrap bootstrap) =>
        {
            var body = await ReadAsync<BootstrapRequest>(ctx).ConfigureAwait(false);
            User admin = await bootstrap.RedeemAsync(body.Token, body.Email, body.Password, body.Name, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(admin, StatusCodes.Status201Created);
        }).Accepts<BootstrapRequest>("application/json").Produces<User>(StatusCodes.Status201Created).RequireRateLimiting(AuthRateLimit).WithSummary("Create the first platform admin with the one-time token the platform writes to admin-bootstrap-token in its data folder");

        api.MapGet("/admin/orgs", async (HttpContext ctx, OrganizationService orgs) =>
        {
            await AdminAsync(ctx).ConfigureAwait(false);
            return Json(new ListResponse<OrganizationResponse>((await orgs.ListAllAsync(ctx.RequestAborted).ConfigureAwait(false)).Select(o => ToResponse(o, null)).ToList()));
        }).Produces<ListResponse<OrganizationResponse>>().WithSummary("Every organization (platform admins)");

        api.MapPut("/admin/orgs/{orgId}/limits", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User admin = await AdminAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<LimitsRequest>(ctx).ConfigureAwait(false);
            var overrides = LimitsJson.FromRequest(body.Limits, "limits");
            Organization org = await orgs.SetOverridesAsync(admin, orgId, overrides, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false);
            return Json(ToResponse(org, null));
        }).Accepts<LimitsRequest>("application/json").Produces<OrganizationResponse>().WithSummary("Override an organization's plan limits (platform admins)");

        api.MapPost("/admin/invoices/run", async (HttpContext ctx, InvoiceService invoices) =>
        {
            await AdminAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<PeriodRequest>(ctx).ConfigureAwait(false);
            return Json(new InvoiceRunResponse(body.Period ?? string.Empty, await invoices.IssueAsync(body.Period ?? string.Empty, ctx.RequestAborted).ConfigureAwait(false)));
        }).Accepts<PeriodRequest>("application/json").Produces<InvoiceRunResponse>().WithSummary("Issue a finished month's invoices now (idempotent; platform admins)");

        api.MapPost("/admin/orgs/{orgId}/invoices/{invoiceId}/payments", async (HttpContext ctx, string orgId, string invoiceId, PaymentService payments) =>
        {
            User admin = await AdminAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<PaymentRecordRequest>(ctx).ConfigureAwait(false);
            return Json(await payments.RecordAsync(orgId, invoiceId, body.Reference, admin.Id, ctx.RequestAborted).ConfigureAwait(false));
        }).Accepts<PaymentRecordRequest>("application/json").Produces<Invoice>().WithSummary("Record a bank transfer against an invoice (platform admins)");
    }

    private static async Task<User> AdminAsync(HttpContext ctx)
    {
        User user = await CallerAsync(ctx).ConfigureAwait(false);
        return user.IsAdmin ? user : throw PlatformException.NotFound($"The path {ctx.Request.Path}");
    }
}

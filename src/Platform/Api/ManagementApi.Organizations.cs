using Inference.Platform.Accounts;
using Inference.Platform.Audit;
using Inference.Platform.Billing;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    private static void MapOrganizations(RouteGroupBuilder api)
    {
        api.MapPost("/orgs", async (HttpContext ctx, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<NameRequest>(ctx).ConfigureAwait(false);
            Organization org = await orgs.CreateAsync(user, body.Name, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(org, Role.Owner), StatusCodes.Status201Created);
        }).Accepts<NameRequest>("application/json").Produces<OrganizationResponse>(StatusCodes.Status201Created).WithSummary("Create an organization (you become its owner)");

        api.MapGet("/orgs", async (HttpContext ctx, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var list = await orgs.ListForUserAsync(user.Id, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<OrganizationResponse>(list.Select(o => ToResponse(o.Organization, o.Role)).ToList()));
        }).Produces<ListResponse<OrganizationResponse>>().WithSummary("Your organizations");

        api.MapGet("/orgs/{orgId}", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(await orgs.GetAsync(orgId, ctx.RequestAborted).ConfigureAwait(false), role));
        }).Produces<OrganizationResponse>().WithSummary("An organization");

        api.MapPatch("/orgs/{orgId}", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ManageOrganization, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<NameRequest>(ctx).ConfigureAwait(false);
            return Json(ToResponse(await orgs.RenameAsync(orgId, body.Name, ctx.RequestAborted).ConfigureAwait(false), role));
        }).Accepts<NameRequest>("application/json").Produces<OrganizationResponse>().WithSummary("Rename an organization");

        api.MapDelete("/orgs/{orgId}", async (HttpContext ctx, string orgId, string? confirm_name, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.DeleteOrganization, ctx.RequestAborted).ConfigureAwait(false);
            await orgs.DeleteAsync(user, orgId, confirm_name, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false); // its keys are refused here before the response
            return Results.NoContent();
        }).Produces(StatusCodes.Status204NoContent)
            .WithSummary("Delete the organization (owners; the query's confirm_name must be its name): keys revoked, members removed, ledger and invoices kept");

        api.MapGet("/orgs/{orgId}/members", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<Member>(await orgs.ListMembersAsync(orgId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<Member>>().WithSummary("Members and their roles");

        api.MapPatch("/orgs/{orgId}/members/{userId}", async (HttpContext ctx, string orgId, string userId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ManageMembers, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<RoleRequest>(ctx).ConfigureAwait(false);
            Role newRole = Permissions.Parse(body.Role, "role");
            return Json(await orgs.SetRoleAsync(user, role, orgId, userId, newRole, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false));
        }).Accepts<RoleRequest>("application/json").Produces<Member>().WithSummary("Change a member's role");

        api.MapDelete("/orgs/{orgId}/members/{userId}", async (HttpContext ctx, string orgId, string userId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ManageMembers, ctx.RequestAborted).ConfigureAwait(false);
            await orgs.RemoveMemberAsync(user, role, orgId, userId, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Produces(StatusCodes.Status204NoContent).WithSummary("Remove a member");

        api.MapPost("/orgs/{orgId}/invitations", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            Role role = await orgs.AuthorizeAsync(user, orgId, Permission.ManageMembers, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<InviteRequest>(ctx).ConfigureAwait(false);
            Role invited = Permissions.Parse(body.Role, "role");
            return Json(await orgs.InviteAsync(user, role, orgId, body.Email, invited, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false), StatusCodes.Status201Created);
        }).Accepts<InviteRequest>("application/json").Produces<Invitation>(StatusCodes.Status201Created).WithSummary("Invite someone by email (the token is returned once and mailed)");

        api.MapGet("/orgs/{orgId}/invitations", async (HttpContext ctx, string orgId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageMembers, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<Invitation>(await orgs.ListInvitationsAsync(orgId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<Invitation>>().WithSummary("Open and accepted invitations");

        api.MapDelete("/orgs/{orgId}/invitations/{invitationId}", async (HttpContext ctx, string orgId, string invitationId, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageMembers, ctx.RequestAborted).ConfigureAwait(false);
            await orgs.RevokeInvitationAsync(orgId, invitationId, ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Produces(StatusCodes.Status204NoContent).WithSummary("Revoke an invitation");

        api.MapPost("/invitations/accept", async (HttpContext ctx, OrganizationService orgs) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            var body = await ReadAsync<TokenOnlyRequest>(ctx).ConfigureAwait(false);
            var (org, role) = await orgs.AcceptAsync(user, body.Token, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(org, role));
        }).Accepts<TokenOnlyRequest>("application/json").Produces<OrganizationResponse>().WithSummary("Join an organization with an invitation token");

        api.MapGet("/orgs/{orgId}/audit", async (HttpContext ctx, string orgId, int? limit, string? before, OrganizationService orgs, AuditLog audit) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadAudit, ctx.RequestAborted).ConfigureAwait(false);
            if (limit is < 1 or > 1000)
            {
                throw PlatformException.Invalid("limit", "limit must be 1 to 1000.");
            }

            return Json(new ListResponse<AuditEvent>(await audit.ListAsync(orgId, limit ?? 100, before, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<AuditEvent>>().WithSummary("The organization's audit log, newest first (owners and admins)");
    }

    private static OrganizationResponse ToResponse(Organization org, Role? role)
    {
        Plan plan = Plans.Find(org.Plan) ?? Plans.Free;
        long? cap = PlatformKeyStore.MonthlyCap(new PlatformKeyStore.OrgView(org.Id, plan, org.Overrides, org.BudgetKrw, org.BudgetHardStop));
        return new OrganizationResponse(org.Id, org.Name, org.Plan, role, plan.Limits.Merge(org.Overrides), cap, org.BudgetKrw, org.BudgetHardStop, org.CreatedAt);
    }
}

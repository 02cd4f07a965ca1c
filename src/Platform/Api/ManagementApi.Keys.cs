using Inference.Platform.Accounts;
using Inference.Platform.Apps;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    private static void MapKeys(RouteGroupBuilder api)
    {
        api.MapPost("/orgs/{orgId}/keys", async (HttpContext ctx, string orgId, OrganizationService orgs, KeyService keys, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<CreateKeyRequest>(ctx).ConfigureAwait(false);
            var limits = LimitsJson.FromRequest(body.Limits, "limits");
            var (key, secret) = await keys.CreateAsync(user, orgId, body.Name, limits, body.ExpiresAt, Ip(ctx), ctx.RequestAborted, body.AppId).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false); // usable on this replica as soon as the response arrives
            return Json(ToResponse(key, time.GetUtcNow()) with { Secret = secret }, StatusCodes.Status201Created);
        }).Accepts<CreateKeyRequest>("application/json").Produces<KeyResponse>(StatusCodes.Status201Created).WithSummary("Create an API key (the secret is in this response only)");

        api.MapGet("/orgs/{orgId}/keys", async (HttpContext ctx, string orgId, OrganizationService orgs, KeyService keys, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadKeys, ctx.RequestAborted).ConfigureAwait(false);
            DateTimeOffset now = time.GetUtcNow();
            return Json(new ListResponse<KeyResponse>((await keys.ListAsync(orgId, ctx.RequestAborted).ConfigureAwait(false)).Select(k => ToResponse(k, now)).ToList()));
        }).Produces<ListResponse<KeyResponse>>().WithSummary("The organization's API keys (never their secrets)");

        api.MapGet("/orgs/{orgId}/keys/{keyId}", async (HttpContext ctx, string orgId, string keyId, OrganizationService orgs, KeyService keys, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadKeys, ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(await keys.GetAsync(orgId, keyId, ctx.RequestAborted).ConfigureAwait(false), time.GetUtcNow()));
        }).Produces<KeyResponse>().WithSummary("An API key");

        api.MapDelete("/orgs/{orgId}/keys/{keyId}", async (HttpContext ctx, string orgId, string keyId, OrganizationService orgs, KeyService keys, TimeProvider time) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            KeyInfo revoked = await keys.RevokeAsync(user, orgId, keyId, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false); // refused on this replica before the response; elsewhere within the refresh interval
            return Json(ToResponse(revoked, time.GetUtcNow()));
        }).Produces<KeyResponse>().WithSummary("Revoke an API key (refused by the gateway within 5 s on every replica)");
    }

    private static void MapApps(RouteGroupBuilder api)
    {
        api.MapPost("/orgs/{orgId}/apps", async (HttpContext ctx, string orgId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<NameRequest>(ctx).ConfigureAwait(false);
            return Json(await apps.CreateAsync(user, orgId, body.Name, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false), StatusCodes.Status201Created);
        }).Accepts<NameRequest>("application/json").Produces<App>(StatusCodes.Status201Created).WithSummary("Create an app (keys can be scoped to it)");

        api.MapGet("/orgs/{orgId}/apps", async (HttpContext ctx, string orgId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<App>(await apps.ListAsync(orgId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<App>>().WithSummary("The organization's apps");

        api.MapGet("/orgs/{orgId}/apps/{appId}", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(await apps.GetAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false));
        }).Produces<App>().WithSummary("An app");

        api.MapDelete("/orgs/{orgId}/apps/{appId}", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            App app = await apps.ArchiveAsync(user, orgId, appId, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await ReloadGatewayViewAsync(ctx).ConfigureAwait(false);
            return Json(app);
        }).Produces<App>().WithSummary("Archive an app and revoke its keys");
    }

    private static KeyResponse ToResponse(KeyInfo key, DateTimeOffset now) => new(
        key.Id, key.Name, key.Prefix, key.KeyId,
        key.RevokedAt is not null ? "revoked" : key.ExpiresAt is { } e && e <= now ? "expired" : "active",
        key.Limits, key.CreatedBy, key.CreatedAt, key.ExpiresAt, key.RevokedAt, key.LastUsedAt, key.AppId);
}

using Inference.Platform.Accounts;
using Inference.Platform.Apps;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Inference.Platform.Api.Contracts;

namespace Inference.Platform.Api;

public static partial class ManagementApi
{
    /// <summary>The builder as an API (what the dashboard's builder page does): templates, drafts, releases, access, export.</summary>
    private static void MapBuilder(RouteGroupBuilder api)
    {
        api.MapGet("/app-templates", () => Json(new ListResponse<AppSpec>(AppTemplates.All)))
            .Produces<ListResponse<AppSpec>>().WithSummary("The builder's ready templates");

        api.MapPost("/orgs/{orgId}/apps/from-template", async (HttpContext ctx, string orgId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<TemplateAppRequest>(ctx).ConfigureAwait(false);
            AppDesign design = await apps.CreateFromTemplateAsync(user, orgId, body.Name, body.Template, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(design), StatusCodes.Status201Created);
        }).Accepts<TemplateAppRequest>("application/json").Produces<AppDesignResponse>(StatusCodes.Status201Created).WithSummary("Create an app from a ready template");

        api.MapGet("/orgs/{orgId}/apps/{appId}/design", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(await apps.DesignAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<AppDesignResponse>().WithSummary("An app's draft, address, published version and access");

        api.MapPut("/orgs/{orgId}/apps/{appId}/draft", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            AppSpec draft = AppPrompt.Normalize(await ReadAsync<AppSpec>(ctx).ConfigureAwait(false));
            return Json(ToResponse(await apps.SaveDraftAsync(orgId, appId, draft, ctx.RequestAborted).ConfigureAwait(false)));
        }).Accepts<AppSpec>("application/json").Produces<AppDesignResponse>().WithSummary("Replace the draft (what is published does not change)");

        api.MapPost("/orgs/{orgId}/apps/{appId}/releases", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps, PlatformKeyStore keys) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            AppRelease release = await apps.PublishAsync(user, orgId, appId, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await keys.RefreshAsync(ctx.RequestAborted).ConfigureAwait(false);
            return Json(release, StatusCodes.Status201Created);
        }).Produces<AppRelease>(StatusCodes.Status201Created).WithSummary("Publish the draft as the next immutable release and serve it");

        api.MapGet("/orgs/{orgId}/apps/{appId}/releases", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            return Json(new ListResponse<AppRelease>(await apps.ReleasesAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Produces<ListResponse<AppRelease>>().WithSummary("The app's releases, newest first");

        api.MapPut("/orgs/{orgId}/apps/{appId}/published", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<PublishedRequest>(ctx).ConfigureAwait(false);
            int version = body.Version ?? throw PlatformException.Invalid("version", "version is required.");
            await apps.RollBackAsync(user, orgId, appId, version, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(await apps.DesignAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false)));
        }).Accepts<PublishedRequest>("application/json").Produces<AppDesignResponse>().WithSummary("Serve an earlier release (roll back)");

        api.MapDelete("/orgs/{orgId}/apps/{appId}/published", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            await apps.UnpublishAsync(user, orgId, appId, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            return Results.NoContent();
        }).Produces(StatusCodes.Status204NoContent).WithSummary("Unpublish: the app's page and run endpoint answer 404");

        api.MapPut("/orgs/{orgId}/apps/{appId}/access", async (HttpContext ctx, string orgId, string appId, OrganizationService orgs, AppService apps, PlatformKeyStore keys) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ManageKeys, ctx.RequestAborted).ConfigureAwait(false);
            var body = await ReadAsync<AppAccess>(ctx).ConfigureAwait(false);
            AppDesign design = await apps.SetAccessAsync(user, orgId, appId, body with { AllowedOrigins = body.AllowedOrigins ?? [] }, Ip(ctx), ctx.RequestAborted).ConfigureAwait(false);
            await keys.RefreshAsync(ctx.RequestAborted).ConfigureAwait(false);
            return Json(ToResponse(design));
        }).Accepts<AppAccess>("application/json").Produces<AppDesignResponse>().WithSummary("Allowed origins and the app key's rate limit and monthly tokens");

        api.MapGet("/orgs/{orgId}/apps/{appId}/releases/{version:int}/export", async (HttpContext ctx, string orgId, string appId, int version, OrganizationService orgs, AppService apps) =>
        {
            User user = await CallerAsync(ctx).ConfigureAwait(false);
            await orgs.AuthorizeAsync(user, orgId, Permission.ReadOrganization, ctx.RequestAborted).ConfigureAwait(false);
            (byte[] zip, string name) = await StaticExport.ForAppAsync(apps, orgId, appId, version, $"{ctx.Request.Scheme}://{ctx.Request.Host}", ctx.RequestAborted).ConfigureAwait(false);
            return Results.File(zip, "application/zip", name);
        }).Produces(StatusCodes.Status200OK, contentType: "application/zip").WithSummary("A release as a static site (zip) that calls the gateway with the app key");
    }

    private static AppDesignResponse ToResponse(AppDesign d) => new(d.App.Id, d.App.Name, d.Slug, $"/apps/{d.Slug}", d.PublishedVersion, d.Draft, d.Access, d.PublicKey, d.App.ArchivedAt);
}

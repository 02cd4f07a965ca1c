using System.Net;
using Inference.Gateway.Api;
using Inference.Gateway.Http;
using Inference.Gateway.Keys;
using Inference.Gateway.Serving;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Apps;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Web;

/// <summary>
/// What the dashboard's scripts call (same session cookie, the form's CSRF token): the builder's streaming preview
/// and the playground, both through the gateway's chat path; and the static export of a release.
/// </summary>
public static class DashboardEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/dashboard/apps/{id}/preview", async (HttpContext ctx, string id) =>
        {
            if (await SignedInAsync(ctx).ConfigureAwait(false) is not { } user)
            {
                return;
            }

            await StreamAsync(ctx, async () =>
            {
                string orgId = await CurrentOrgAsync(ctx, user, Permission.ManageKeys).ConfigureAwait(false);
                IFormCollection form = await ctx.Request.ReadFormAsync(ctx.RequestAborted).ConfigureAwait(false);
                AppSpec spec = BuilderForm.Parse(form);
                return await PreviewRequestAsync(ctx, user, orgId, id, spec, BuilderForm.Inputs(form), stream: true).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }).DisableAntiforgery();

        app.MapPost("/dashboard/playground/run", async (HttpContext ctx) =>
        {
            if (await SignedInAsync(ctx).ConfigureAwait(false) is not { } user)
            {
                return;
            }

            await StreamAsync(ctx, async () =>
            {
                string orgId = await CurrentOrgAsync(ctx, user, Permission.ReadUsage).ConfigureAwait(false);
                IFormCollection form = await ctx.Request.ReadFormAsync(ctx.RequestAborted).ConfigureAwait(false);
                return (await OrgCallerAsync(ctx, orgId).ConfigureAwait(false), Playground.Body(form, stream: true));
            }).ConfigureAwait(false);
        }).DisableAntiforgery();

        app.MapGet("/dashboard/apps/{id}/export", async (HttpContext ctx, string id, int? version) =>
        {
            if (await DashboardPage.SignedInUserAsync(ctx).ConfigureAwait(false) is not { } user)
            {
                return Results.Redirect("/signin");
            }

            try
            {
                string orgId = await CurrentOrgAsync(ctx, user, Permission.ReadOrganization).ConfigureAwait(false);
                (byte[] zip, string name) = await StaticExport.ForAppAsync(ctx.RequestServices.GetRequiredService<AppService>(), orgId, id, version,
                    $"{ctx.Request.Scheme}://{ctx.Request.Host}", ctx.RequestAborted).ConfigureAwait(false);
                return Results.File(zip, "application/zip", name);
            }
            catch (PlatformException ex)
            {
                return Results.Problem(ex.Message, statusCode: (int)ex.Status);
            }
        });
    }

    /// <summary>
    /// The caller and chat body of a builder preview: the app's own publishable key (so previews are metered to the
    /// app and count against its limits), created on the first preview.
    /// </summary>
    internal static async Task<(CallerContext Caller, byte[] Body)> PreviewRequestAsync(
        HttpContext ctx, User user, string orgId, string appId, AppSpec spec, IReadOnlyDictionary<string, string?> inputs, bool stream = false)
    {
        IServiceProvider services = ctx.RequestServices;
        AppService apps = services.GetRequiredService<AppService>();
        AppDesign design = await apps.DesignAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false);
        if (design.PublicKey is null)
        {
            await apps.EnsureKeyAsync(user, design, ctx.RequestAborted).ConfigureAwait(false);
            await services.GetRequiredService<PlatformKeyStore>().RefreshAsync(ctx.RequestAborted).ConfigureAwait(false);
            design = await apps.DesignAsync(orgId, appId, ctx.RequestAborted).ConfigureAwait(false);
        }

        IReadOnlyDictionary<string, string> values = AppPrompt.CheckInputs(spec, inputs);
        GatewayService gateway = services.GetRequiredService<GatewayService>();
        CallerContext caller = await gateway.AuthenticateAsync(design.PublicKey, appId, ctx.RequestAborted).ConfigureAwait(false);
        return (caller, AppPrompt.ChatBody(spec, values, ModelOf(gateway, spec), stream));
    }

    /// <summary>The app's model, or the first one the gateway serves when it names none.</summary>
    internal static string ModelOf(GatewayService gateway, AppSpec spec) =>
        spec.Model.Length > 0 ? spec.Model
        : gateway.Pool.Models is { Count: > 0 } models ? models[0].Model : throw ApiException.Unavailable("No model is served right now.", TimeSpan.FromSeconds(5), "no_worker_available");

    /// <summary>
    /// The organization itself as a caller (the playground): its plan's limits and priority, metered to it under a
    /// key id of its own ("dashboard"), with no key to leak.
    /// </summary>
    internal static async Task<CallerContext> OrgCallerAsync(HttpContext ctx, string orgId)
    {
        var key = new ApiKey("dashboard-" + orgId[^6..], "dashboard", orgId, Tier.Free, Name: "dashboard playground");
        EffectiveLimits limits = await ctx.RequestServices.GetRequiredService<PlatformKeyStore>().ResolveAsync(key, ctx.RequestAborted).ConfigureAwait(false);
        return new CallerContext { KeyId = key.KeyId, Tenant = orgId, Class = limits.Priority, Key = key, Limits = limits };
    }

    /// <summary>The signed-in user with a valid CSRF token, or null after writing the refusal.</summary>
    private static async Task<User?> SignedInAsync(HttpContext ctx)
    {
        User? user = await DashboardPage.SignedInUserAsync(ctx).ConfigureAwait(false);
        if (user is null)
        {
            await HttpErrors.WriteAsync(ctx, ApiException.Unauthorized("Sign in to the dashboard first.")).ConfigureAwait(false);
            return null;
        }

        try
        {
            await ctx.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(ctx).ConfigureAwait(false);
        }
        catch (AntiforgeryValidationException)
        {
            await HttpErrors.WriteAsync(ctx, new ApiException(HttpStatusCode.Forbidden, "permission_error", "csrf_failed", null, "The form's CSRF token is missing or wrong; reload the page.")).ConfigureAwait(false);
            return null;
        }

        return user;
    }

    private static async Task<string> CurrentOrgAsync(HttpContext ctx, User user, Permission permission)
    {
        string orgId = ctx.Request.Cookies[DashboardPage.OrgCookie] ?? throw PlatformException.NotFound("The organization");
        await ctx.RequestServices.GetRequiredService<OrganizationService>().AuthorizeAsync(user, orgId, permission, ctx.RequestAborted).ConfigureAwait(false);
        return orgId;
    }

    private static async Task StreamAsync(HttpContext ctx, Func<Task<(CallerContext Caller, byte[] Body)>> prepare)
    {
        CallerContext caller;
        byte[] body;
        try
        {
            (caller, body) = await prepare().ConfigureAwait(false);
        }
        catch (PlatformException ex)
        {
            await HttpErrors.WriteAsync(ctx, ToApi(ex)).ConfigureAwait(false);
            return;
        }
        catch (ApiException ex)
        {
            await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
            return;
        }

        await OpenAIEndpoints.ChatAsync(ctx, ctx.RequestServices.GetRequiredService<GatewayService>(), caller, body).ConfigureAwait(false);
    }

    /// <summary>A platform refusal as an OpenAI error object (these endpoints speak the gateway's dialect).</summary>
    internal static ApiException ToApi(PlatformException ex) => new(
        ex.Status, ex.Status switch
        {
            HttpStatusCode.Unauthorized => "authentication_error",
            HttpStatusCode.Forbidden => "permission_error",
            HttpStatusCode.NotFound => "not_found_error",
            _ => "invalid_request_error",
        }, ex.Code, ex.Field, ex.Message);
}

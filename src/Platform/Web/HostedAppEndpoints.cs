using System.Net;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Gateway.Http;
using Inference.Gateway.Serving;
using Inference.Platform.Api;
using Inference.Platform.Apps;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace Inference.Platform.Web;

/// <summary>
/// The run endpoint of a published app, <c>POST /apps/{slug}/api/run</c>: the app's publishable key (or a key of the
/// app's organization), a body of <c>{"inputs": {...}, "stream": true, "version": N}</c>, the answer as OpenAI chat
/// completion (chunks). Browsers may call it from the platform's own pages and from the app's allowed origins
/// (CORS); any other origin is refused with 403.
/// </summary>
public static class HostedAppEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapMethods("/apps/{slug}/api/run", ["OPTIONS"], async (HttpContext ctx, string slug) =>
        {
            HostedApp? hosted = await ctx.RequestServices.GetRequiredService<AppService>().FindHostedAsync(slug, null, ctx.RequestAborted).ConfigureAwait(false);
            if (hosted is null)
            {
                await HttpErrors.WriteAsync(ctx, NotPublished(slug)).ConfigureAwait(false);
                return;
            }

            if (!Cors(ctx, hosted))
            {
                await HttpErrors.WriteAsync(ctx, OriginRefused(ctx)).ConfigureAwait(false);
                return;
            }

            ctx.Response.Headers.AccessControlAllowMethods = "POST";
            ctx.Response.Headers.AccessControlAllowHeaders = "authorization, content-type";
            ctx.Response.Headers.AccessControlMaxAge = "600";
            ctx.Response.StatusCode = StatusCodes.Status204NoContent;
        });

        app.MapPost("/apps/{slug}/api/run", async (HttpContext ctx, string slug) =>
        {
            GatewayService gateway = ctx.RequestServices.GetRequiredService<GatewayService>();
            (CallerContext Caller, byte[] Body)? run;
            try
            {
                run = await PrepareAsync(ctx, gateway, slug).ConfigureAwait(false);
            }
            catch (ApiException ex)
            {
                gateway.Metrics.Rejected((int)ex.Status);
                await HttpErrors.WriteAsync(ctx, ex).ConfigureAwait(false);
                return;
            }
            catch (PlatformException ex)
            {
                await HttpErrors.WriteAsync(ctx, DashboardEndpoints.ToApi(ex)).ConfigureAwait(false);
                return;
            }

            await OpenAIEndpoints.ChatAsync(ctx, gateway, run.Value.Caller, run.Value.Body).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Checks the request's origin and key for a published app. The key must be this app's
    /// publishable key or a key of the app's organization (another organization's key is refused: it would be billed
    /// for this one's app).
    /// </summary>
    internal static async Task<CallerContext> AuthorizeAsync(HttpContext ctx, GatewayService gateway, HostedApp hosted, string? bearer)
    {
        if (!Cors(ctx, hosted))
        {
            throw OriginRefused(ctx);
        }

        CallerContext caller = await gateway.AuthenticateAsync(bearer, hosted.AppId, ctx.RequestAborted).ConfigureAwait(false);
        if (!string.Equals(caller.Tenant, hosted.OrgId, StringComparison.Ordinal))
        {
            throw new ApiException(HttpStatusCode.Forbidden, "permission_error", "app_key_scope", null, "This key belongs to another organization; use the app's own key.");
        }

        return caller;
    }

    private static async Task<(CallerContext, byte[])> PrepareAsync(HttpContext ctx, GatewayService gateway, string slug)
    {
        ReadOnlyMemory<byte> raw = await RequestBody.ReadJsonAsync(ctx.Request, 64 * 1024, ctx.RequestAborted).ConfigureAwait(false);
        (Dictionary<string, string?> inputs, bool stream, int? version) = ParseRun(raw);
        string? bearer = GatewayService.BearerToken(ctx.Request.Headers.Authorization);
        HostedApp hosted = await ctx.RequestServices.GetRequiredService<AppService>().FindHostedAsync(slug, version, ctx.RequestAborted).ConfigureAwait(false)
            ?? throw (version is { } v ? ApiException.Invalid("version", $"The app '{slug}' has no release {v}.") : NotPublished(slug));
        CallerContext caller = await AuthorizeAsync(ctx, gateway, hosted, bearer).ConfigureAwait(false);
        IReadOnlyDictionary<string, string> values;
        try
        {
            values = AppPrompt.CheckInputs(hosted.Release.Spec, inputs);
        }
        catch (PlatformException ex)
        {
            throw ApiException.Invalid(ex.Field, ex.Message);
        }

        return (caller, AppPrompt.ChatBody(hosted.Release.Spec, values, DashboardEndpoints.ModelOf(gateway, hosted.Release.Spec), stream));
    }

    private static (Dictionary<string, string?> Inputs, bool Stream, int? Version) ParseRun(ReadOnlyMemory<byte> raw)
    {
        using JsonDocument doc = RequestParser.Parse(raw);
        JsonElement root = doc.RootElement;
        RequestParser.OnlyFields(root, "inputs", "stream", "version");
        var inputs = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (root.TryGetProperty("inputs", out JsonElement i))
        {
            if (i.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.WrongType("inputs", "an object of field names to strings");
            }

            foreach (JsonProperty p in i.EnumerateObject())
            {
                inputs[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Null => null,
                    _ => throw ApiException.WrongType($"inputs.{p.Name}", "a string"),
                };
            }
        }

        bool stream = false;
        if (root.TryGetProperty("stream", out JsonElement s))
        {
            stream = s.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.WrongType("stream", "a boolean"),
            };
        }

        int? version = null;
        if (root.TryGetProperty("version", out JsonElement v) && v.ValueKind != JsonValueKind.Null)
        {
            version = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n > 0 ? n : throw ApiException.WrongType("version", "a release number");
        }

        return (inputs, stream, version);
    }

    /// <summary>
    /// True when the request may come from its origin: none (not a browser), the platform's own, or one the app
    /// allows; an allowed cross-origin caller gets the CORS headers.
    /// </summary>
    private static bool Cors(HttpContext ctx, HostedApp hosted)
    {
        StringValues origin = ctx.Request.Headers.Origin;
        if (StringValues.IsNullOrEmpty(origin))
        {
            return true;
        }

        string value = origin.ToString();
        string own = $"{ctx.Request.Scheme}://{ctx.Request.Host}";
        ctx.Response.Headers.Vary = "Origin";
        if (string.Equals(value, own, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!hosted.Access.AllowedOrigins.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        ctx.Response.Headers.AccessControlAllowOrigin = value;
        return true;
    }

    private static ApiException NotPublished(string slug) =>
        new(HttpStatusCode.NotFound, "invalid_request_error", "app_not_found", null, $"No published app is at /apps/{slug}.");

    private static ApiException OriginRefused(HttpContext ctx) =>
        new(HttpStatusCode.Forbidden, "permission_error", "origin_not_allowed", null, $"The origin {ctx.Request.Headers.Origin} may not call this app; its owner can allow it in the builder's Access settings.");
}

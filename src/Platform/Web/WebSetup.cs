using Inference.Platform.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Web;

/// <summary>
/// The web dashboard and hosted apps on the platform's HTTP port: server-rendered Razor Pages (CSRF tokens on every
/// form), a strict Content-Security-Policy on every HTML response, UI text in Korean or English by Accept-Language,
/// the pinned chart library and scripts served from the assembly, and the JSON/SSE endpoints the pages stream from.
/// </summary>
public static class WebSetup
{
    /// <summary>The policy of every HTML page: scripts, styles and connections only from this origin, no inline code.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public const string AntiforgeryCookie = "inference_af";
    public const string AntiforgeryHeader = "X-CSRF-Token";

    public static void AddDashboard(IServiceCollection services, PlatformOptions options)
    {
        IMvcBuilder mvc = services.AddRazorPages();
        // The pages live in this assembly; the process's entry assembly is not always it (tests, other hosts).
        mvc.ConfigureApplicationPartManager(parts =>
        {
            var assembly = typeof(WebSetup).Assembly;
            if (!parts.ApplicationParts.Any(p => p is AssemblyPart a && a.Assembly == assembly))
            {
                // The factory the Razor SDK names in the assembly: the types and the compiled pages.
                foreach (ApplicationPart part in ApplicationPartFactory.GetApplicationPartFactory(assembly).GetApplicationParts(assembly))
                {
                    parts.ApplicationParts.Add(part);
                }
            }
        });
        // Antiforgery and TempData tokens are encrypted with keys kept under the data folder, so a restart does not
        // invalidate every open form.
        services.AddDataProtection().SetApplicationName("inference-platform")
            .PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(options.DataDir, "dataprotection")));
        // Post/redirect/get status messages ride in a cookie: as strict as the others.
        services.Configure<Microsoft.AspNetCore.Mvc.CookieTempDataProviderOptions>(o =>
        {
            o.Cookie.Name = "inference_flash";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = options.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = AntiforgeryCookie;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = options.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            o.HeaderName = AntiforgeryHeader;
            o.SuppressXFrameOptionsHeader = false;
        });
    }

    /// <summary>
    /// The headers of HTML responses and the request's language: before anything that may answer a page (the
    /// management API's rate limiter answers sign-in pages too), so every HTML response gets them.
    /// </summary>
    public static void UseHeaders(WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (!IsPage(context.Request.Path))
            {
                // The APIs never answer HTML and answer alike in every language (no UI text): nothing to add on their
                // hot path, not even the language's AsyncLocal write.
                return next(context);
            }

            UiText.IsKorean = UiText.PrefersKorean(context.Request.Headers.AcceptLanguage);
            context.Response.Headers.ContentLanguage = UiText.IsKorean ? "ko" : "en";
            context.Response.Headers.Vary = "Accept-Language";
            context.Response.OnStarting(static state =>
            {
                HttpResponse response = (HttpResponse)state;
                if (response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
                {
                    response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    response.Headers.XContentTypeOptions = "nosniff";
                    response.Headers["Referrer-Policy"] = "same-origin";
                    response.Headers.XFrameOptions = "DENY";
                    response.Headers.CacheControl = "no-store";
                }

                return Task.CompletedTask;
            }, context.Response);
            return next(context);
        });
    }

    /// <summary>The pages, static assets and the endpoints the pages' scripts call.</summary>
    public static void Map(WebApplication app)
    {
        StaticAssets.Map(app);
        HostedAppEndpoints.Map(app);
        DashboardEndpoints.Map(app);
        app.MapRazorPages();
    }

    // Pages, not APIs: the OpenAI and management APIs, metrics, gRPC, static files and apps' run endpoints answer the
    // same in every language.
    private static bool IsPage(PathString path) =>
        !path.StartsWithSegments("/v1", StringComparison.Ordinal) && !path.StartsWithSegments("/api", StringComparison.Ordinal)
        && !path.StartsWithSegments("/metrics", StringComparison.Ordinal) && !path.StartsWithSegments("/static", StringComparison.Ordinal)
        && !path.StartsWithSegments("/inference.v1", StringComparison.Ordinal) && !(path.Value ?? "").EndsWith("/api/run", StringComparison.Ordinal)
        && path.Value != "/tokenize" && path.Value != "/detokenize";
}

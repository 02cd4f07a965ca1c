using System.Data.Common;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using Inference.Platform.Accounts;
using Inference.Platform.Data;
using Inference.Platform.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Api;

/// <summary>
/// The management API under /api: REST and JSON, RFC 7807 errors, JWT access tokens (Authorization: Bearer) or a
/// dashboard session cookie with a CSRF header on unsafe methods. The OpenAPI document is at /api/openapi.json.
/// </summary>
public static partial class ManagementApi
{
    public const string SessionCookie = "inference_session";
    public const string CsrfCookie = "inference_csrf";
    public const string CsrfHeader = "X-CSRF-Token";
    public const int MaxBodyBytes = 64 * 1024;
    /// <summary>The rate-limiting policy of the endpoints that check a password or a one-time token (per client address).</summary>
    public const string AuthRateLimit = "platform-auth";
    private const string CallerKey = "inference.platform.caller";

    /// <summary>
    /// Registers what the API needs besides the platform's services: the per-address limit on sign-in, sign-up and
    /// reset attempts (credential stuffing spreads guesses over many accounts, which the per-account lockout alone
    /// does not stop).
    /// </summary>
    public static void AddManagementApi(IServiceCollection services, PlatformOptions options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(AuthRateLimit, context => RateLimitPartition.GetSlidingWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = options.AuthRequestsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    SegmentsPerWindow = 6,
                    QueueLimit = 0,
                }));
            limiter.OnRejected = async (rejected, ct) =>
            {
                int retry = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? (int)Math.Ceiling(after.TotalSeconds) : 10;
                if (!rejected.HttpContext.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
                {
                    // A dashboard page (sign-in, sign-up, password reset): a page, not problem details.
                    HttpResponse page = rejected.HttpContext.Response;
                    page.StatusCode = StatusCodes.Status429TooManyRequests;
                    page.Headers.RetryAfter = Math.Max(1, retry).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    page.ContentType = "text/html; charset=utf-8";
                    await page.WriteAsync(Web.TooManyAttemptsPage.Html(Math.Max(1, retry)), ct).ConfigureAwait(false);
                    return;
                }

                await ProblemDetailsWriter.WriteAsync(rejected.HttpContext, new PlatformException(HttpStatusCode.TooManyRequests, "too_many_attempts",
                    $"Too many sign-in, sign-up or reset attempts from this address: at most {options.AuthRequestsPerMinute} a minute.") { RetryAfterSeconds = Math.Max(1, retry) }).ConfigureAwait(false);
            };
        });
    }

    /// <summary>Maps every management endpoint.</summary>
    public static void Map(WebApplication app)
    {
        // Under /api, what routing could not match is answered with problem details too: no route (the gateway's
        // fallback would answer with an OpenAI error), a method the path does not take, a body that is not JSON.
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) && UnmatchedProblem(context) is { } problem)
            {
                await ProblemDetailsWriter.WriteAsync(context, problem).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
        app.UseRateLimiter();
        RouteGroupBuilder api = app.MapGroup("/api").AddEndpointFilter(ProblemFilter).WithTags("platform");
        MapAuth(api);
        MapOrganizations(api);
        MapKeys(api);
        MapApps(api);
        MapBuilder(api);
        MapBilling(api);
        MapAdmin(api);
    }

    private static PlatformException? UnmatchedProblem(HttpContext context)
    {
        Endpoint? endpoint = context.GetEndpoint();
        string? pattern = (endpoint as RouteEndpoint)?.RoutePattern.RawText;
        if (endpoint is null || pattern is null || !pattern.StartsWith("/api", StringComparison.Ordinal))
        {
            // The framework's 405 and 415 endpoints have no route pattern; anything else is the gateway's fallback.
            return endpoint?.DisplayName switch
            {
                "405 HTTP Method Not Supported" => new PlatformException(HttpStatusCode.MethodNotAllowed, "method_not_allowed", $"{context.Request.Path} does not take {context.Request.Method}."),
                "415 HTTP Unsupported Media Type" => new PlatformException(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."),
                _ when !context.Request.HasJsonContentType() && TakesBody(context) => new PlatformException(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."),
                _ => PlatformException.NotFound($"The path {context.Request.Path}"),
            };
        }

        return null;
    }

    // True when an /api endpoint takes this method and path but routing passed it over for its Content-Type (the
    // gateway's fallback route then matched instead of the framework's 415 endpoint).
    private static bool TakesBody(HttpContext context)
    {
        var endpoints = context.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        foreach (RouteEndpoint candidate in endpoints)
        {
            string? raw = candidate.RoutePattern.RawText;
            if (raw is null || !raw.StartsWith("/api/", StringComparison.Ordinal)
                || candidate.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase) != true)
            {
                continue;
            }

            var matcher = new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(Microsoft.AspNetCore.Routing.Template.TemplateParser.Parse(raw.TrimStart('/')), new RouteValueDictionary());
            if (matcher.TryMatch(context.Request.Path, new RouteValueDictionary()))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The signed-in user: from a Bearer access token, or a session cookie (then unsafe methods need the CSRF header).</summary>
    internal static async Task<User> CallerAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(CallerKey, out object? cached) && cached is User known)
        {
            return known;
        }

        IServiceProvider services = context.RequestServices;
        string? userId = null;
        string? authorization = context.Request.Headers.Authorization;
        if (authorization is not null)
        {
            if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                throw PlatformException.Unauthorized("Use Authorization: Bearer ACCESS_TOKEN (from POST /api/auth/token).");
            }

            userId = await services.GetRequiredService<TokenService>().ValidateAccessTokenAsync(authorization[7..].Trim()).ConfigureAwait(false)
                ?? throw PlatformException.Unauthorized("The access token is invalid or expired; refresh it (POST /api/auth/refresh) or sign in again.");
        }
        else if (context.Request.Cookies[SessionCookie] is { Length: > 0 } cookie)
        {
            Session session = await services.GetRequiredService<TokenService>().FindSessionAsync(cookie, context.RequestAborted).ConfigureAwait(false)
                ?? throw PlatformException.Unauthorized("The session has ended; sign in again.");
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) && !HttpMethods.IsOptions(context.Request.Method))
            {
                string presented = context.Request.Headers[CsrfHeader].ToString();
                if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(session.CsrfToken)))
                {
                    throw new PlatformException(HttpStatusCode.Forbidden, "csrf_failed", $"Requests made with the session cookie must send the session's CSRF token in {CsrfHeader}.");
                }
            }

            userId = session.UserId;
        }

        if (userId is null)
        {
            throw PlatformException.Unauthorized("Sign in first: POST /api/auth/token for an access token, or POST /api/auth/session for a cookie.");
        }

        User user = await services.GetRequiredService<AccountService>().FindAsync(userId, context.RequestAborted).ConfigureAwait(false)
            ?? throw PlatformException.Unauthorized("The account no longer exists.");
        context.Items[CallerKey] = user;
        return user;
    }

    /// <summary>Reads a JSON body (at most 64 KiB); 400 naming the field for bad JSON or an unknown field.</summary>
    internal static async Task<T> ReadAsync<T>(HttpContext context)
        where T : class
    {
        HttpRequest request = context.Request;
        if (!request.HasJsonContentType())
        {
            throw new PlatformException(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json).");
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            throw new PlatformException(HttpStatusCode.RequestEntityTooLarge, "body_too_large", $"The body is larger than {MaxBodyBytes} bytes.");
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new PlatformException(HttpStatusCode.RequestEntityTooLarge, "body_too_large", $"The body is larger than {MaxBodyBytes} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), PlatformJson.Options)
                ?? throw PlatformException.Invalid("body", "The body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            string field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            string reason = ex.Message.Split(" Path:", 2)[0];
            throw PlatformException.Invalid(field, $"The body is not valid for this endpoint: {reason}");
        }
    }

    /// <summary>Reloads this replica's gateway view of keys and plans now (after a change made through it).</summary>
    internal static Task ReloadGatewayViewAsync(HttpContext context) =>
        context.RequestServices.GetRequiredService<Keys.PlatformKeyStore>().RefreshAsync(context.RequestAborted);

    internal static string? Ip(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    internal static IResult Json(object value, int status = StatusCodes.Status200OK) =>
        Results.Json(value, PlatformJson.Options, statusCode: status);

    private static async ValueTask<object?> ProblemFilter(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        HttpContext context = invocation.HttpContext;
        try
        {
            context.Response.Headers.CacheControl = "no-store";
            return await next(invocation).ConfigureAwait(false);
        }
        catch (PlatformException ex)
        {
            await ProblemDetailsWriter.WriteAsync(context, ex).ConfigureAwait(false);
            return Results.Empty;
        }
        catch (Exception ex) when (ex is DbException or TimeoutException or System.Net.Sockets.SocketException || PlatformDatabase.IsUnavailable(ex))
        {
            LogDatabaseError(Logger(context), context.Request.Path, ex.Message);
            await ProblemDetailsWriter.WriteAsync(context, ProblemDetailsWriter.Unavailable()).ConfigureAwait(false);
            return Results.Empty;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogUnhandled(Logger(context), ex, context.Request.Path);
            await ProblemDetailsWriter.WriteAsync(context, ProblemDetailsWriter.Internal()).ConfigureAwait(false);
            return Results.Empty;
        }
    }

    private static ILogger Logger(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Inference.Platform.Api");

    [LoggerMessage(EventId = 5401, Level = LogLevel.Warning, Message = "Database error serving {Path}: {Reason}")]
    private static partial void LogDatabaseError(ILogger logger, PathString path, string reason);

    [LoggerMessage(EventId = 5402, Level = LogLevel.Error, Message = "Unhandled error serving {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception ex, PathString path);
}

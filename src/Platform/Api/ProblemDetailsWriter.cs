using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Inference.Platform.Api;

/// <summary>Writes RFC 7807 problem details (application/problem+json) for the management API.</summary>
public static class ProblemDetailsWriter
{
    /// <summary>The problem type URI of a code.</summary>
    public static string TypeOf(string code) => "urn:inference:problem:" + code;

    public static async Task WriteAsync(HttpContext context, PlatformException problem)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = (int)problem.Status;
        context.Response.ContentType = "application/problem+json";
        if (problem.Status == HttpStatusCode.Unauthorized)
        {
            // RFC 6750 section 3: a 401 names the scheme; a presented but bad token is invalid_token.
            context.Response.Headers.WWWAuthenticate = context.Request.Headers.Authorization.Count > 0
                ? "Bearer realm=\"inference-platform\", error=\"invalid_token\""
                : "Bearer realm=\"inference-platform\"";
        }

        if (problem.RetryAfterSeconds is { } retry)
        {
            context.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = new Dictionary<string, object?>
        {
            ["type"] = TypeOf(problem.Code),
            ["title"] = ReasonPhrases.GetReasonPhrase((int)problem.Status),
            ["status"] = (int)problem.Status,
            ["detail"] = problem.Message,
            ["instance"] = context.Request.Path.Value,
            ["code"] = problem.Code,
        };
        if (problem.Field is not null)
        {
            body["field"] = problem.Field;
        }

        await JsonSerializer.SerializeAsync(context.Response.Body, body, PlatformJson.Options).ConfigureAwait(false);
    }

    public static PlatformException Unavailable() =>
        new(HttpStatusCode.ServiceUnavailable, "database_unavailable", "The platform database is unavailable; retry shortly. (Inference under /v1 keeps serving.)") { RetryAfterSeconds = 2 };

    public static PlatformException Internal() =>
        new(HttpStatusCode.InternalServerError, "internal_error", "The platform had an error while processing the request.");
}

using System.Net;

namespace Inference.Platform.Api;

/// <summary>
/// A refusal of a management request: rendered once, at the edge, as RFC 7807 problem details
/// (type, title, status, detail, and the field it names when there is one).
/// </summary>
public sealed class PlatformException : Exception
{
    public PlatformException(HttpStatusCode status, string code, string detail, string? field = null)
        : base(detail)
    {
        Status = status;
        Code = code;
        Field = field;
    }

    public HttpStatusCode Status { get; }

    /// <summary>A stable machine-readable code ("not_found", "invalid_field", ...), the last part of the problem type.</summary>
    public string Code { get; }

    /// <summary>The request field at fault, when one is.</summary>
    public string? Field { get; }

    /// <summary>Seconds to wait before retrying (Retry-After), when known.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static PlatformException NotFound(string what) => new(HttpStatusCode.NotFound, "not_found", $"{what} was not found.");

    public static PlatformException Invalid(string field, string detail) => new(HttpStatusCode.BadRequest, "invalid_field", detail, field);

    public static PlatformException Unauthorized(string detail) => new(HttpStatusCode.Unauthorized, "unauthorized", detail);

    public static PlatformException Forbidden(string detail) => new(HttpStatusCode.Forbidden, "forbidden", detail);

    public static PlatformException Conflict(string code, string detail) => new(HttpStatusCode.Conflict, code, detail);
}

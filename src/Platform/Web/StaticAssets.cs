using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Inference.Platform.Web;

/// <summary>
/// The dashboard's scripts, styles and the pinned Chart.js (4.6.1, MIT), embedded in the assembly and served at
/// /static/{name} with an ETag: no build step, no CDN, nothing a page loads from another origin.
/// </summary>
public static class StaticAssets
{
    private static readonly FrozenDictionary<string, Asset> Assets = Load();

    /// <summary>The asset's bytes (for the static export), or null.</summary>
    public static byte[]? Get(string name) => Assets.TryGetValue(name, out Asset? a) ? a.Bytes : null;

    public static void Map(WebApplication app)
    {
        app.MapGet("/static/{name}", (HttpContext ctx, string name) =>
        {
            if (!Assets.TryGetValue(name, out Asset? asset))
            {
                return Results.NotFound();
            }

            ctx.Response.Headers.CacheControl = "public, max-age=300";
            ctx.Response.Headers.XContentTypeOptions = "nosniff";
            if (ctx.Request.Headers.IfNoneMatch == asset.ETag)
            {
                return Results.StatusCode(StatusCodes.Status304NotModified);
            }

            ctx.Response.Headers.ETag = asset.ETag;
            return Results.Bytes(asset.Bytes, asset.ContentType);
        });
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(StaticAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith("assets/", StringComparison.Ordinal))
            {
                continue;
            }

            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            string name = resource["assets/".Length..];
            string type = Path.GetExtension(name) switch
            {
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "text/plain; charset=utf-8",
            };
            assets[name] = new Asset(bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}

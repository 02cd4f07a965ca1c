using System.IO.Compression;
using System.Net;
using System.Text;
using Inference.Platform.Apps;

namespace Inference.Platform.Web;

/// <summary>
/// A release as a static site (zip): index.html with the app's form, the page's script and style, and a README.
/// It can be put on any static host or CDN; it calls the gateway's run endpoint with the app key, pinned to the
/// release it was exported from. The host's origin must be added to the app's allowed origins.
/// </summary>
public static class StaticExport
{
    /// <summary>
    /// The zip of a release of the organization's app (the served one when <paramref name="version"/> is null) and its
    /// file name; refusals name what is missing. What the builder's link and the management API both serve.
    /// </summary>
    public static async Task<(byte[] Zip, string FileName)> ForAppAsync(AppService apps, string orgId, string appId, int? version, string gatewayBase, CancellationToken ct)
    {
        AppDesign design = await apps.DesignAsync(orgId, appId, ct).ConfigureAwait(false);
        int wanted = version ?? design.PublishedVersion ?? throw Api.PlatformException.Invalid("version", "The app has no release to export.");
        AppRelease release = await apps.ReleaseAsync(appId, wanted, ct).ConfigureAwait(false) ?? throw Api.PlatformException.NotFound($"Release {wanted}");
        string key = design.PublicKey ?? throw Api.PlatformException.Conflict("no_app_key", "The app has no app key: publish it (again) before exporting.");
        return (Build(design.Slug, release, key, gatewayBase), $"{design.Slug}-v{release.Version}.zip");
    }

    public static byte[] Build(string slug, AppRelease release, string appKey, string gatewayBase)
    {
        AppSpec spec = release.Spec;
        string gateway = gatewayBase.TrimEnd('/');
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ")
            .Append(E(gateway)).Append("; form-action 'none'; base-uri 'none'\">\n");
        html.Append("<title>").Append(E(spec.Title)).Append("</title>\n<link rel=\"stylesheet\" href=\"site.css\">\n</head>\n<body class=\"hosted\">\n<main id=\"main\">\n");
        html.Append("<h1>").Append(E(spec.Title)).Append("</h1>\n");
        if (spec.Description.Length > 0)
        {
            html.Append("<p>").Append(E(spec.Description)).Append("</p>\n");
        }

        html.Append("<form id=\"app-form\" class=\"card\" data-run-url=\"").Append(E($"{gateway}/apps/{slug}/api/run")).Append("\" data-key=\"").Append(E(appKey))
            .Append("\" data-version=\"").Append(release.Version).Append("\">\n");
        foreach (AppField field in spec.Fields)
        {
            string id = "in-" + field.Name;
            string required = field.Required ? " required" : "";
            html.Append("<label for=\"").Append(id).Append("\">").Append(E(field.Label)).Append("</label>\n");
            switch (field.Kind)
            {
                case AppFieldKind.LongText:
                    html.Append("<textarea id=\"").Append(id).Append("\" name=\"in.").Append(field.Name).Append("\" rows=\"5\" maxlength=\"8000\"").Append(required).Append("></textarea>\n");
                    break;
                case AppFieldKind.Choice:
                    html.Append("<select id=\"").Append(id).Append("\" name=\"in.").Append(field.Name).Append('"').Append(required).Append(">\n");
                    if (!field.Required)
                    {
                        html.Append("<option value=\"\">—</option>\n");
                    }

                    foreach (string option in field.Options ?? [])
                    {
                        html.Append("<option value=\"").Append(E(option)).Append("\">").Append(E(option)).Append("</option>\n");
                    }

                    html.Append("</select>\n");
                    break;
                default:
                    html.Append("<input id=\"").Append(id).Append("\" name=\"in.").Append(field.Name).Append("\" maxlength=\"1000\"").Append(required).Append(">\n");
                    break;
            }
        }

        html.Append("<button type=\"submit\" class=\"primary\">Send</button>\n</form>\n");
        html.Append("<div id=\"answer\" class=\"answer\" aria-live=\"polite\"></div>\n</main>\n<script src=\"stream.js\"></script>\n<script src=\"hosted.js\"></script>\n</body>\n</html>\n");

        string readme = $"""
            {spec.Title} (release v{release.Version}), exported from /apps/{slug}

            Put these files on any static web host or CDN. The page calls
              {gateway}/apps/{slug}/api/run
            with the app's public key, pinned to release v{release.Version}.

            Before it works from its new address, add that address's origin
            (for example https://www.example.com) to the app's allowed origins
            in the builder (Access). The key can only run this app, within the
            app's rate limit and monthly token budget.
            """;

        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(archive, "index.html", Encoding.UTF8.GetBytes(html.ToString()));
            Add(archive, "site.css", StaticAssets.Get("site.css")!);
            Add(archive, "stream.js", StaticAssets.Get("stream.js")!);
            Add(archive, "hosted.js", StaticAssets.Get("hosted.js")!);
            Add(archive, "README.txt", Encoding.UTF8.GetBytes(readme));
        }

        return zip.ToArray();
    }

    private static void Add(ZipArchive archive, string name, byte[] bytes)
    {
        ZipArchiveEntry entry = archive.CreateEntry(name, CompressionLevel.Optimal);
        using Stream stream = entry.Open();
        stream.Write(bytes);
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}

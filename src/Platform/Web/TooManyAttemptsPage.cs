using System.Globalization;
using System.Net;

namespace Inference.Platform.Web;

/// <summary>The page a sign-in, sign-up or reset form gets when its address has made too many attempts this minute.</summary>
public static class TooManyAttemptsPage
{
    public static string Html(int retryAfterSeconds)
    {
        string title = WebUtility.HtmlEncode(UiText.T("Too many attempts"));
        string text = WebUtility.HtmlEncode(UiText.T("Too many sign-in attempts from this address. Try again in {0} seconds.", retryAfterSeconds.ToString(CultureInfo.InvariantCulture)));
        return $"<!DOCTYPE html>\n<html lang=\"{UiText.Lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
            $"<title>{title}</title><link rel=\"stylesheet\" href=\"/static/site.css\"></head><body><main id=\"main\"><section class=\"card narrow\"><h1>{title}</h1>" +
            $"<p class=\"alert\" role=\"alert\">{text}</p><p><a href=\"/signin\">{WebUtility.HtmlEncode(UiText.T("Sign in"))}</a></p></section></main></body></html>\n";
    }
}

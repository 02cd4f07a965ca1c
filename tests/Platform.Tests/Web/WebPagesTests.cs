using System.Net;
using Inference.Platform.Data;
using Inference.Platform.Tests.Infrastructure;
using Inference.Platform.Web;

namespace Inference.Platform.Tests.Web;

/// <summary>The dashboard's pages over plain HTTP: headers on every HTML response, sign-in redirects, language choice.</summary>
public sealed class WebPagesTests
{
    [Fact]
    public async Task PublicPages_AreHtml_WithTheStrictPolicy_AndAntiforgeryCookie()
    {
        await using PlatformStack stack = await PlatformStack.StartAsync(DatabaseKind.Sqlite);
        foreach (string path in new[] { "/signin", "/signup", "/apps/nothing-here" })
        {
            using HttpResponseMessage response = await stack.Http.GetAsync(path).WaitAsync(TimeSpan.FromSeconds(30));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode} {body}");
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(WebSetup.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        }
    }
}

using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Platform.Apps;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Pages;

/// <summary>A published app's page: its form; the answer streams with JavaScript, or comes whole after a plain post.</summary>
public sealed class HostedModel : PageModel
{
    public HostedApp? App { get; private set; }

    public IReadOnlyDictionary<string, string?> Inputs { get; private set; } = new Dictionary<string, string?>();

    public string? Answer { get; private set; }

    public string? Error { get; private set; }

    public async Task OnGetAsync(string slug) => await FindAsync(slug).ConfigureAwait(false);

    public async Task OnPostAsync(string slug)
    {
        if (!await FindAsync(slug).ConfigureAwait(false))
        {
            return;
        }

        Inputs = BuilderForm.Inputs(Request.Form);
        GatewayService gateway = HttpContext.RequestServices.GetRequiredService<GatewayService>();
        try
        {
            HostedApp hosted = App!;
            CallerContext caller = await HostedAppEndpoints.AuthorizeAsync(HttpContext, gateway, hosted, hosted.PublicKey).ConfigureAwait(false);
            IReadOnlyDictionary<string, string> values = AppPrompt.CheckInputs(hosted.Release.Spec, Inputs);
            byte[] body = AppPrompt.ChatBody(hosted.Release.Spec, values, DashboardEndpoints.ModelOf(gateway, hosted.Release.Spec), stream: false);
            Answer = await Gateway.Http.OpenAIEndpoints.CompleteChatTextAsync(gateway, caller, body, HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            Error = ex.Message;
            Response.StatusCode = (int)ex.Status;
        }
        catch (Api.PlatformException ex)
        {
            Error = ex.Message;
            Response.StatusCode = (int)ex.Status;
        }
    }

    private async Task<bool> FindAsync(string slug)
    {
        App = await HttpContext.RequestServices.GetRequiredService<AppService>().FindHostedAsync(slug, null, HttpContext.RequestAborted).ConfigureAwait(false);
        if (App is null)
        {
            Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status404NotFound;
            return false;
        }

        return true;
    }
}

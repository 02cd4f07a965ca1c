using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;

namespace Inference.Platform.Pages.Dashboard;

public sealed class PlaygroundModel : DashboardPage
{
    public IReadOnlyList<string> Models { get; private set; } = [];

    public string? Model { get; private set; }

    public string? System { get; private set; }

    public string Temperature { get; private set; } = "0.7";

    public string TopP { get; private set; } = "1";

    public string MaxTokens { get; private set; } = "128";

    public string? Message { get; private set; }

    public string? Answer { get; private set; }

    public void OnGet() => Load();

    /// <summary>Without JavaScript: one turn, the whole answer at once.</summary>
    public Task<IActionResult> OnPostAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ReadUsage).ConfigureAwait(false);
        Load();
        var form = Request.Form;
        (Model, System, Message) = (form["model"].ToString(), form["system"].ToString(), form["message"].ToString());
        (Temperature, TopP, MaxTokens) = (form["temperature"].ToString(), form["top_p"].ToString(), form["max_tokens"].ToString());
        try
        {
            CallerContext caller = await DashboardEndpoints.OrgCallerAsync(HttpContext, RequireOrg().Id).ConfigureAwait(false);
            Answer = await Gateway.Http.OpenAIEndpoints.CompleteChatTextAsync(Service<GatewayService>(), caller, Playground.Body(form, stream: false), Aborted).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            Error = ex.Param is null ? ex.Message : $"{ex.Param}: {ex.Message}";
        }

        return Page();
    });

    protected override Task OnErrorAsync()
    {
        Load();
        return Task.CompletedTask;
    }

    private void Load()
    {
        Models = Service<GatewayService>().Pool.Models.Select(m => m.Model).Distinct().ToList();
        Model ??= Models.Count > 0 ? Models[0] : null;
    }
}

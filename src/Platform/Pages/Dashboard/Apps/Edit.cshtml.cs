using Inference.Gateway.Api;
using Inference.Gateway.Serving;
using Inference.Platform.Apps;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages.Dashboard.Apps;

public sealed class EditModel : DashboardPage
{
    [FromRoute(Name = "id")]
    public string AppId { get; set; } = "";

    public AppDesign Design { get; private set; } = null!;

    /// <summary>The spec the form shows: the saved draft, or what was posted when it was refused.</summary>
    public AppSpec Spec { get; private set; } = null!;

    public IReadOnlyList<AppRelease> Releases { get; private set; } = [];

    public IReadOnlyList<string> Models { get; private set; } = [];

    public IReadOnlyDictionary<string, string?> Inputs { get; private set; } = new Dictionary<string, string?>();

    public string? PreviewAnswer { get; private set; }

    public Task<IActionResult> OnGetAsync() => TryAsync(async () =>
    {
        await LoadAsync().ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostSaveAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        AppSpec spec = ParsePosted();
        await Service<AppService>().SaveDraftAsync(RequireOrg().Id, AppId, spec, Aborted).ConfigureAwait(false);
        Flash(T("Draft saved."));
        return Redirect($"/dashboard/apps/{AppId}");
    });

    public Task<IActionResult> OnPostPublishAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        AppSpec spec = ParsePosted();
        AppService apps = Service<AppService>();
        await apps.SaveDraftAsync(RequireOrg().Id, AppId, spec, Aborted).ConfigureAwait(false);
        AppRelease release = await apps.PublishAsync(CurrentUser, RequireOrg().Id, AppId, Ip, Aborted).ConfigureAwait(false);
        await Service<PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        Flash(T("Published version {0}.", release.Version));
        return Redirect($"/dashboard/apps/{AppId}");
    });

    /// <summary>The preview without JavaScript: the whole answer at once (with JavaScript it streams, see dashboard.js).</summary>
    public Task<IActionResult> OnPostPreviewAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        AppSpec spec = ParsePosted();
        await LoadAsync(spec).ConfigureAwait(false);
        try
        {
            (CallerContext caller, byte[] body) = await DashboardEndpoints.PreviewRequestAsync(HttpContext, CurrentUser, RequireOrg().Id, AppId, spec, Inputs).ConfigureAwait(false);
            PreviewAnswer = await Gateway.Http.OpenAIEndpoints.CompleteChatTextAsync(Service<GatewayService>(), caller, body, Aborted).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            Error = ex.Message;
        }

        return Page();
    });

    public Task<IActionResult> OnPostRollbackAsync(int version) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        await Service<AppService>().RollBackAsync(CurrentUser, RequireOrg().Id, AppId, version, Ip, Aborted).ConfigureAwait(false);
        Flash(T("Now serving version {0}.", version));
        return Redirect($"/dashboard/apps/{AppId}");
    });

    public Task<IActionResult> OnPostUnpublishAsync() => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        await Service<AppService>().UnpublishAsync(CurrentUser, RequireOrg().Id, AppId, Ip, Aborted).ConfigureAwait(false);
        Flash(T("The app is no longer published."));
        return Redirect($"/dashboard/apps/{AppId}");
    });

    public Task<IActionResult> OnPostAccessAsync(string? origins, int rpm, long monthly) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageKeys).ConfigureAwait(false);
        var access = new AppAccess((origins ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), rpm, monthly);
        await Service<AppService>().SetAccessAsync(CurrentUser, RequireOrg().Id, AppId, access, Ip, Aborted).ConfigureAwait(false);
        await Service<PlatformKeyStore>().RefreshAsync(Aborted).ConfigureAwait(false);
        Flash(T("Access saved."));
        return Redirect($"/dashboard/apps/{AppId}");
    });

    protected override async Task OnErrorAsync()
    {
        try
        {
            await LoadAsync(_posted).ConfigureAwait(false);
        }
        catch (Api.PlatformException)
        {
            // the app itself is not there: the error alone is shown
        }
    }

    private AppSpec? _posted;

    private AppSpec ParsePosted()
    {
        Inputs = BuilderForm.Inputs(Request.Form);
        _posted = BuilderForm.Read(Request.Form);
        AppPrompt.Validate(_posted);
        return _posted;
    }

    private async Task LoadAsync(AppSpec? shown = null)
    {
        AppService apps = Service<AppService>();
        Design = await apps.DesignAsync(RequireOrg().Id, AppId, Aborted).ConfigureAwait(false);
        Spec = shown ?? Design.Draft;
        Releases = await apps.ReleasesAsync(RequireOrg().Id, AppId, Aborted).ConfigureAwait(false);
        Models = Service<GatewayService>().Pool.Models.Select(m => m.Model).Distinct().ToList();
    }
}

using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Organizations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.DependencyInjection;

namespace Inference.Platform.Web;

/// <summary>
/// A page behind sign-in: resolves the session cookie to the user (else redirects to /signin), the organization
/// being worked on (?org=, then the remembered one, then the first) and the user's role in it. A refusal of the
/// platform's services is shown on the page (<see cref="Error"/>), never as an error page.
/// </summary>
public abstract class DashboardPage : PageModel
{
    public const string OrgCookie = "inference_org";

    public User CurrentUser { get; private set; } = null!;

    public Organizations.Organization? Org { get; private set; }

    public Role Role { get; private set; }

    public IReadOnlyList<(Organizations.Organization Organization, Role Role)> Orgs { get; private set; } = [];

    /// <summary>What the last action was refused for (shown in an alert), or null.</summary>
    public string? Error { get; set; }

    /// <summary>What the last action did (shown in a status message), or null.</summary>
    public string? Notice { get; set; }

    protected T Service<T>() where T : notnull => HttpContext.RequestServices.GetRequiredService<T>();

    protected string? Ip => HttpContext.Connection.RemoteIpAddress?.ToString();

    protected CancellationToken Aborted => HttpContext.RequestAborted;

    /// <summary>True when the role has the permission in the current organization (a platform admin has all).</summary>
    public bool Can(Permission permission) => Org is not null && Permissions.Allows(Role, permission);

    public override async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        User? user = await SignedInUserAsync(HttpContext).ConfigureAwait(false);
        if (user is null)
        {
            context.Result = Redirect("/signin?returnUrl=" + Uri.EscapeDataString(Request.Path + Request.QueryString));
            return;
        }

        CurrentUser = user;
        Orgs = (await Service<OrganizationService>().ListForUserAsync(user.Id, Aborted).ConfigureAwait(false)).Where(o => o.Organization.DeletedAt is null).ToList();
        string? wanted = Request.Query["org"].FirstOrDefault() ?? Request.Cookies[OrgCookie];
        var pick = Orgs.FirstOrDefault(o => o.Organization.Id == wanted);
        if (pick.Organization is null && Orgs.Count > 0)
        {
            pick = Orgs[0];
        }

        if (pick.Organization is not null)
        {
            Org = pick.Organization;
            Role = pick.Role;
            if (Request.Cookies[OrgCookie] != Org.Id)
            {
                Response.Cookies.Append(OrgCookie, Org.Id, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = Request.IsHttps, Path = "/", IsEssential = true });
            }
        }

        Notice = TempData["notice"] as string;
        await next().ConfigureAwait(false);
    }

    /// <summary>A status message for the page a redirect leads to (post / redirect / get).</summary>
    protected void Flash(string text) => TempData["notice"] = text;

    /// <summary>Runs an action; a platform refusal becomes <see cref="Error"/> and the page is shown again.</summary>
    protected async Task<IActionResult> TryAsync(Func<Task<IActionResult>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (PlatformException ex)
        {
            Error = ex.Field is null ? ex.Message : $"{ex.Field}: {ex.Message}";
            Response.StatusCode = (int)ex.Status;
            await OnErrorAsync().ConfigureAwait(false);
            return Page();
        }
    }

    /// <summary>Loads what the page shows after a refused action.</summary>
    protected virtual Task OnErrorAsync() => Task.CompletedTask;

    /// <summary>The organization, or a 404 refusal when the user belongs to none.</summary>
    protected Organizations.Organization RequireOrg() => Org ?? throw PlatformException.NotFound("An organization");

    /// <summary>Checks the role in the current organization (a refusal names the permission).</summary>
    protected Task RequireAsync(Permission permission) =>
        Service<OrganizationService>().AuthorizeAsync(CurrentUser, RequireOrg().Id, permission, Aborted);

    /// <summary>The user of the request's session cookie, or null.</summary>
    public static async Task<User?> SignedInUserAsync(HttpContext context)
    {
        if (context.Request.Cookies[ManagementApi.SessionCookie] is not { Length: > 0 } cookie)
        {
            return null;
        }

        IServiceProvider services = context.RequestServices;
        Session? session = await services.GetRequiredService<TokenService>().FindSessionAsync(cookie, context.RequestAborted).ConfigureAwait(false);
        return session is null ? null : await services.GetRequiredService<AccountService>().FindAsync(session.UserId, context.RequestAborted).ConfigureAwait(false);
    }
}

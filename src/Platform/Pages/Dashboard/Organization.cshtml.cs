using Inference.Platform.Organizations;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;
using static Inference.Platform.Web.UiText;

namespace Inference.Platform.Pages.Dashboard;

public sealed class OrganizationModel : DashboardPage
{
    public IReadOnlyList<Member> Members { get; private set; } = [];

    public IReadOnlyList<Invitation> Invitations { get; private set; } = [];

    public Task<IActionResult> OnGetAsync() => TryAsync(async () =>
    {
        await LoadAsync().ConfigureAwait(false);
        return Page();
    });

    public Task<IActionResult> OnPostInviteAsync(string? email, string? role) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageMembers).ConfigureAwait(false);
        Invitation invitation = await Service<OrganizationService>().InviteAsync(CurrentUser, Role, RequireOrg().Id, email, Permissions.Parse(role, "role"), Ip, Aborted).ConfigureAwait(false);
        Flash(T("Invitation sent to {0}.", invitation.Email));
        return RedirectToPage();
    });

    public Task<IActionResult> OnPostRoleAsync(string? userId, string? role) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageMembers).ConfigureAwait(false);
        await Service<OrganizationService>().SetRoleAsync(CurrentUser, Role, RequireOrg().Id, userId ?? "", Permissions.Parse(role, "role"), Ip, Aborted).ConfigureAwait(false);
        Flash(T("Role changed."));
        return RedirectToPage();
    });

    public Task<IActionResult> OnPostRemoveAsync(string? userId) => TryAsync(async () =>
    {
        await RequireAsync(Permission.ManageMembers).ConfigureAwait(false);
        await Service<OrganizationService>().RemoveMemberAsync(CurrentUser, Role, RequireOrg().Id, userId ?? "", Ip, Aborted).ConfigureAwait(false);
        Flash(T("Member removed."));
        return RedirectToPage();
    });

    protected override async Task OnErrorAsync()
    {
        try
        {
            await LoadAsync().ConfigureAwait(false);
        }
        catch (Api.PlatformException)
        {
            // nothing more to show than the error
        }
    }

    private async Task LoadAsync()
    {
        string orgId = RequireOrg().Id;
        OrganizationService orgs = Service<OrganizationService>();
        Members = await orgs.ListMembersAsync(orgId, Aborted).ConfigureAwait(false);
        if (Can(Permission.ManageMembers))
        {
            Invitations = await orgs.ListInvitationsAsync(orgId, Aborted).ConfigureAwait(false);
        }
    }
}

using System.Data.Common;
using System.Net;
using Dapper;
using Inference.Gateway.Keys;
using Inference.Platform.Accounts;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Email;
using Inference.Platform.Hosting;

namespace Inference.Platform.Organizations;

/// <summary>
/// Organizations (the tenants), their members and roles, and invitations. Every call that names an organization
/// goes through <see cref="AuthorizeAsync"/>: a caller who is not a member gets 404 (the id might as well not
/// exist), a member without the permission 403.
/// </summary>
public sealed class OrganizationService(PlatformDatabase database, AuditLog audit, IEmailSender email, PlatformOptions options, TimeProvider time)
{
    /// <summary>Raised after a change the gateway's view depends on (plan, overrides, budget), so it reloads at once.</summary>
    public event Action? Changed;

    /// <summary>The caller's role in the organization, after checking <paramref name="permission"/>. Platform admins act as owners.</summary>
    public async Task<Role> AuthorizeAsync(User user, string orgId, Permission permission, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        string? role = await connection.ExecuteScalarAsync<string?>("SELECT role FROM memberships WHERE org_id = @orgId AND user_id = @Id", new { orgId, user.Id }).ConfigureAwait(false);
        if (role is null)
        {
            if (user.IsAdmin && await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM organizations WHERE id = @orgId AND deleted_ms IS NULL", new { orgId }).ConfigureAwait(false) > 0)
            {
                return Role.Owner;
            }

            throw PlatformException.NotFound("The organization");
        }

        Role parsed = Permissions.Parse(role, "role");
        if (!Permissions.Allows(parsed, permission))
        {
            throw PlatformException.Forbidden($"Your role ({Permissions.Name(parsed)}) cannot do this; it needs {Describe(permission)}.");
        }

        return parsed;
    }

    public async Task<Organization> CreateAsync(User owner, string? name, string? ip, CancellationToken ct)
    {
        string trimmed = CheckName(name);
        DateTimeOffset now = time.GetUtcNow();
        string id = Ids.New("org", now);
        long ms = now.ToUnixTimeMilliseconds();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO organizations (id, name, plan, created_ms, updated_ms) VALUES (@id, @trimmed, @plan, @ms, @ms)",
            new { id, trimmed, plan = Plans.Free.Id, ms }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("INSERT INTO memberships (org_id, user_id, role, created_ms) VALUES (@id, @userId, 'owner', @ms)",
            new { id, userId = owner.Id, ms }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.OrganizationCreated, id, owner.Id, id, trimmed, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return new Organization(id, trimmed, Plans.Free.Id, null, null, false, null, now);
    }

    /// <summary>The organizations the user belongs to, with the user's role in each.</summary>
    public async Task<IReadOnlyList<(Organization Organization, Role Role)>> ListForUserAsync(string userId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<OrgRow>(
            "SELECT o.*, m.role FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE m.user_id = @userId ORDER BY o.id", new { userId }).ConfigureAwait(false);
        return rows.Select(r => (r.ToOrganization(), Permissions.Parse(r.Role, "role"))).ToList();
    }

    public async Task<Organization> GetAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        OrgRow row = await connection.QuerySingleOrDefaultAsync<OrgRow>("SELECT * FROM organizations WHERE id = @orgId AND deleted_ms IS NULL", new { orgId }).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The organization");
        return row.ToOrganization();
    }

    /// <summary>Every organization; deleted ones too with <paramref name="includeDeleted"/> (the invoice job bills their last months).</summary>
    public async Task<IReadOnlyList<Organization>> ListAllAsync(CancellationToken ct, bool includeDeleted = false)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<OrgRow>(includeDeleted ? "SELECT * FROM organizations ORDER BY id" : "SELECT * FROM organizations WHERE deleted_ms IS NULL ORDER BY id").ConfigureAwait(false))
            .Select(r => r.ToOrganization()).ToList();
    }

    /// <summary>
    /// Deletes the organization (owners only): its keys and open invitations are revoked, its members removed; its ledger,
    /// invoices and audit log are kept, and the month's usage is still invoiced. The name must be given to confirm.
    /// </summary>
    public async Task DeleteAsync(User actor, string orgId, string? confirmName, string? ip, CancellationToken ct)
    {
        Organization org = await GetAsync(orgId, ct).ConfigureAwait(false);
        if (!string.Equals(confirmName?.Trim(), org.Name, StringComparison.Ordinal))
        {
            throw PlatformException.Invalid("confirm_name", "To delete the organization, give its exact name in the confirm_name query parameter.");
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await database.BeginLockedAsync(connection, "members:" + orgId, ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE organizations SET deleted_ms = @now, updated_ms = @now WHERE id = @orgId AND deleted_ms IS NULL", new { now, orgId }, tx).ConfigureAwait(false);
        int keys = await connection.ExecuteAsync("UPDATE api_keys SET revoked_ms = @now WHERE org_id = @orgId AND revoked_ms IS NULL", new { now, orgId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE invitations SET revoked_ms = @now WHERE org_id = @orgId AND revoked_ms IS NULL AND accepted_ms IS NULL", new { now, orgId }, tx).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM memberships WHERE org_id = @orgId", new { orgId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.OrganizationDeleted, orgId, actor.Id, orgId, $"{org.Name}; {keys} key(s) revoked", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
    }

    public async Task<Organization> RenameAsync(string orgId, string? name, CancellationToken ct)
    {
        string trimmed = CheckName(name);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE organizations SET name = @trimmed, updated_ms = @now WHERE id = @orgId",
            new { trimmed, orgId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return await GetAsync(orgId, ct).ConfigureAwait(false);
    }

    public async Task<Organization> SetPlanAsync(User actor, string orgId, string? planId, string? ip, CancellationToken ct)
    {
        Plan plan = Plans.Get(planId, "plan");
        Organization before = await GetAsync(orgId, ct).ConfigureAwait(false);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE organizations SET plan = @Id, updated_ms = @now WHERE id = @orgId",
            new { plan.Id, orgId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.PlanChanged, orgId, actor.Id, orgId, $"{before.Plan} -> {plan.Id}", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return await GetAsync(orgId, ct).ConfigureAwait(false);
    }

    /// <summary>Per-organization limit overrides over the plan's (platform admins only).</summary>
    public async Task<Organization> SetOverridesAsync(User actor, string orgId, Limits? overrides, string? ip, CancellationToken ct)
    {
        if (!actor.IsAdmin)
        {
            throw PlatformException.Forbidden("Only platform admins set an organization's limit overrides.");
        }

        _ = await GetAsync(orgId, ct).ConfigureAwait(false);
        string? json = LimitsJson.Serialize(overrides);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE organizations SET overrides = @json, updated_ms = @now WHERE id = @orgId",
            new { json, orgId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.LimitsChanged, orgId, actor.Id, orgId, json ?? "plan defaults", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return await GetAsync(orgId, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Sets the monthly budget (null: none), the hard stop, and the alert webhook. Returns the webhook signing secret when a
    /// new URL was set (shown once).
    /// </summary>
    public async Task<(Organization Organization, string? WebhookSecret)> SetBudgetAsync(
        User actor, string orgId, long? budgetKrw, bool hardStop, string? webhookUrl, string? ip, CancellationToken ct)
    {
        if (budgetKrw is < 0)
        {
            throw PlatformException.Invalid("monthly_budget_krw", "monthly_budget_krw must be zero or more (null for no budget).");
        }

        if (hardStop && budgetKrw is null)
        {
            throw PlatformException.Invalid("hard_stop", "hard_stop needs a monthly_budget_krw.");
        }

        if (webhookUrl is not null && (!Uri.TryCreate(webhookUrl, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https")))
        {
            throw PlatformException.Invalid("webhook_url", "webhook_url must be an absolute http(s) URL.");
        }

        Organization before = await GetAsync(orgId, ct).ConfigureAwait(false);
        string? secret = webhookUrl is not null && webhookUrl != before.WebhookUrl ? Ids.NewSecret("whsec_") : null;
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE organizations SET budget_krw = @budgetKrw, budget_hard_stop = @stop, webhook_url = @webhookUrl, webhook_secret = CASE WHEN @webhookUrl IS NULL THEN NULL WHEN @secret IS NULL THEN webhook_secret ELSE @secret END, updated_ms = @now WHERE id = @orgId",
            new { budgetKrw, stop = hardStop ? 1L : 0L, webhookUrl, secret, orgId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.BudgetChanged, orgId, actor.Id, orgId,
            budgetKrw is null ? "no budget" : $"{Money.Format(budgetKrw.Value)}{(hardStop ? ", hard stop" : string.Empty)}", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        Changed?.Invoke();
        return (await GetAsync(orgId, ct).ConfigureAwait(false), secret);
    }

    public async Task<IReadOnlyList<Member>> ListMembersAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<MemberRow>(
            "SELECT m.user_id, u.email, u.name, m.role, m.created_ms FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = @orgId ORDER BY m.created_ms, m.user_id",
            new { orgId }).ConfigureAwait(false);
        return rows.Select(r => new Member(r.UserId, r.Email, r.Name, Permissions.Parse(r.Role, "role"), DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedMs))).ToList();
    }

    /// <summary>Changes a member's role. Only owners grant or take away ownership; the last owner stays an owner.</summary>
    public async Task<Member> SetRoleAsync(User actor, Role actorRole, string orgId, string userId, Role role, string? ip, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        // Locked: two owners demoting each other at once must not leave the organization without one.
        await using DbTransaction tx = await database.BeginLockedAsync(connection, "members:" + orgId, ct).ConfigureAwait(false);
        string current = await connection.ExecuteScalarAsync<string?>("SELECT role FROM memberships WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId }, tx).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The member");
        Role currentRole = Permissions.Parse(current, "role");
        if ((role == Role.Owner || currentRole == Role.Owner) && actorRole != Role.Owner)
        {
            throw PlatformException.Forbidden("Only owners grant or take away the owner role.");
        }

        if (currentRole == Role.Owner && role != Role.Owner && await OwnersAsync(connection, tx, orgId).ConfigureAwait(false) <= 1)
        {
            throw PlatformException.Conflict("last_owner", "The organization needs at least one owner: make someone else owner first.");
        }

        await connection.ExecuteAsync("UPDATE memberships SET role = @r WHERE org_id = @orgId AND user_id = @userId", new { r = Permissions.Name(role), orgId, userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.RoleChanged, orgId, actor.Id, userId, $"{current} -> {Permissions.Name(role)}", ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return (await ListMembersAsync(orgId, ct).ConfigureAwait(false)).Single(m => m.UserId == userId);
    }

    public async Task RemoveMemberAsync(User actor, Role actorRole, string orgId, string userId, string? ip, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        // Locked: two owners demoting each other at once must not leave the organization without one.
        await using DbTransaction tx = await database.BeginLockedAsync(connection, "members:" + orgId, ct).ConfigureAwait(false);
        string current = await connection.ExecuteScalarAsync<string?>("SELECT role FROM memberships WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId }, tx).ConfigureAwait(false)
            ?? throw PlatformException.NotFound("The member");
        if (current == "owner")
        {
            if (actorRole != Role.Owner)
            {
                throw PlatformException.Forbidden("Only owners remove an owner.");
            }

            if (await OwnersAsync(connection, tx, orgId).ConfigureAwait(false) <= 1)
            {
                throw PlatformException.Conflict("last_owner", "The organization needs at least one owner.");
            }
        }

        await connection.ExecuteAsync("DELETE FROM memberships WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.MemberRemoved, orgId, actor.Id, userId, current, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Invites an email with a role; the token (returned once and mailed) lets that person join.</summary>
    public async Task<Invitation> InviteAsync(User actor, Role actorRole, string orgId, string? emailAddress, Role role, string? ip, CancellationToken ct)
    {
        string normalized = AccountService.NormalizeEmail(emailAddress);
        if (role == Role.Owner && actorRole != Role.Owner)
        {
            throw PlatformException.Forbidden("Only owners invite owners.");
        }

        DateTimeOffset now = time.GetUtcNow();
        string token = Ids.NewSecret("inv_");
        var invitation = new Invitation(Ids.New("inv", now), orgId, normalized, role, now + options.InvitationLifetime, null, token);
        Organization org = await GetAsync(orgId, ct).ConfigureAwait(false);
        await using (DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false))
        {
            await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync(
                "INSERT INTO invitations (id, org_id, email, role, token_hash, created_by, created_ms, expires_ms) VALUES (@Id, @OrgId, @Email, @r, @hash, @by, @now, @expires)",
                new { invitation.Id, invitation.OrgId, invitation.Email, r = Permissions.Name(role), hash = Ids.Hash(token), by = actor.Id, now = now.ToUnixTimeMilliseconds(), expires = invitation.ExpiresAt.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
            await audit.WriteAsync(AuditAction.MemberInvited, orgId, actor.Id, normalized, Permissions.Name(role), ip, connection, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }

        await email.SendAsync(normalized, $"Join {org.Name}",
            $"{actor.Email} invited you to {org.Name} as {Permissions.Name(role)}. Sign up or sign in, then POST /api/invitations/accept with token {token}\r\n" +
            $"({options.PublicUrl.TrimEnd('/')}/invitations/accept?token={token}). The invitation expires {invitation.ExpiresAt:u}.", ct).ConfigureAwait(false);
        return invitation;
    }

    public async Task<IReadOnlyList<Invitation>> ListInvitationsAsync(string orgId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync<InvitationRow>(
            "SELECT id, org_id, email, role, expires_ms, accepted_ms FROM invitations WHERE org_id = @orgId AND revoked_ms IS NULL ORDER BY id", new { orgId }).ConfigureAwait(false);
        return rows.Select(r => r.ToInvitation()).ToList();
    }

    public async Task RevokeInvitationAsync(string orgId, string invitationId, CancellationToken ct)
    {
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        int updated = await connection.ExecuteAsync("UPDATE invitations SET revoked_ms = @now WHERE id = @invitationId AND org_id = @orgId AND revoked_ms IS NULL AND accepted_ms IS NULL",
            new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), invitationId, orgId }).ConfigureAwait(false);
        if (updated != 1)
        {
            throw PlatformException.NotFound("The invitation");
        }
    }

    /// <summary>Joins the invitation's organization; the signed-in user's email must be the invited one.</summary>
    public async Task<(Organization Organization, Role Role)> AcceptAsync(User user, string? token, string? ip, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw PlatformException.Invalid("token", "token is required.");
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await using DbTransaction tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        InvitationRow? row = await connection.QuerySingleOrDefaultAsync<InvitationRow>(
            "SELECT id, org_id, email, role, expires_ms, accepted_ms FROM invitations WHERE token_hash = @hash AND revoked_ms IS NULL", new { hash = Ids.Hash(token) }, tx).ConfigureAwait(false);
        if (row is null || row.AcceptedMs is not null || row.ExpiresMs <= now)
        {
            throw PlatformException.Invalid("token", "The invitation is unknown, expired, revoked or already used.");
        }

        if (!string.Equals(row.Email, user.Email, StringComparison.Ordinal))
        {
            throw PlatformException.Forbidden("This invitation is for another email address.");
        }

        if (await connection.ExecuteAsync("UPDATE invitations SET accepted_ms = @now WHERE id = @Id AND accepted_ms IS NULL", new { now, row.Id }, tx).ConfigureAwait(false) != 1)
        {
            throw PlatformException.Invalid("token", "The invitation was already used.");
        }

        await connection.ExecuteAsync(
            "INSERT INTO memberships (org_id, user_id, role, created_ms) VALUES (@OrgId, @userId, @Role, @now) ON CONFLICT (org_id, user_id) DO NOTHING",
            new { row.OrgId, userId = user.Id, row.Role, now }, tx).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.MemberJoined, row.OrgId, user.Id, user.Id, row.Role, ip, connection, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return (await GetAsync(row.OrgId, ct).ConfigureAwait(false), Permissions.Parse(row.Role, "role"));
    }

    private static async Task<long> OwnersAsync(DbConnection connection, DbTransaction tx, string orgId) =>
        await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM memberships WHERE org_id = @orgId AND role = 'owner'", new { orgId }, tx).ConfigureAwait(false);

    private static string CheckName(string? name)
    {
        string trimmed = (name ?? string.Empty).Trim();
        if (trimmed.Length is 0 or > 200)
        {
            throw PlatformException.Invalid("name", "name must have 1 to 200 characters.");
        }

        return trimmed;
    }

    private static string Describe(Permission permission) => permission switch
    {
        Permission.ManageMembers => "owner or admin",
        Permission.ManageKeys or Permission.ReadKeys => "owner, admin or developer",
        Permission.ManageBilling or Permission.ReadBilling => "owner, admin or billing",
        Permission.ReadAudit or Permission.ManageOrganization => "owner or admin",
        Permission.DeleteOrganization => "owner",
        _ => "a member role",
    };

    internal sealed class OrgRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Plan { get; set; } = "";
        public string? Overrides { get; set; }
        public long? BudgetKrw { get; set; }
        public long BudgetHardStop { get; set; }
        public string? WebhookUrl { get; set; }
        public string? WebhookSecret { get; set; }
        public long CreatedMs { get; set; }
        public long UpdatedMs { get; set; }
        public long? DeletedMs { get; set; }
        public string Role { get; set; } = "";

        public Organization ToOrganization() => new(Id, Name, Plan, LimitsJson.Deserialize(Overrides), BudgetKrw, BudgetHardStop != 0, WebhookUrl, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs),
            DeletedMs is { } d ? DateTimeOffset.FromUnixTimeMilliseconds(d) : null);
    }

    private sealed class MemberRow
    {
        public string UserId { get; set; } = "";
        public string Email { get; set; } = "";
        public string Name { get; set; } = "";
        public string Role { get; set; } = "";
        public long CreatedMs { get; set; }
    }

    private sealed class InvitationRow
    {
        public string Id { get; set; } = "";
        public string OrgId { get; set; } = "";
        public string Email { get; set; } = "";
        public string Role { get; set; } = "";
        public long ExpiresMs { get; set; }
        public long? AcceptedMs { get; set; }

        public Invitation ToInvitation() => new(Id, OrgId, Email, Permissions.Parse(Role, "role"), DateTimeOffset.FromUnixTimeMilliseconds(ExpiresMs),
            AcceptedMs is { } a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null);
    }
}

namespace Inference.Platform.Organizations;

/// <summary>What a management endpoint needs; <see cref="Permissions"/> says which roles have it.</summary>
public enum Permission
{
    ReadOrganization,
    ManageOrganization,
    DeleteOrganization,
    ManageMembers,
    ManageKeys,
    ReadKeys,
    ReadUsage,
    ManageBilling,
    ReadBilling,
    ReadAudit,
}

namespace Inference.Platform.Organizations;

/// <summary>A member's role in an organization (JSON: "owner", "admin", "developer", "viewer", "billing").</summary>
public enum Role
{
    /// <summary>Everything, including making other owners and deleting the organization.</summary>
    Owner,

    /// <summary>Members, invitations, keys, budgets and the audit log.</summary>
    Admin,

    /// <summary>API keys and usage.</summary>
    Developer,

    /// <summary>Read-only: the organization, its members and usage.</summary>
    Viewer,

    /// <summary>Plan, invoices, payments, budgets and usage.</summary>
    Billing,
}

using System.Collections.Frozen;

namespace Inference.Platform.Organizations;

/// <summary>The one table of which role may do what (every management endpoint asks it).</summary>
public static class Permissions
{
    private static readonly FrozenDictionary<Role, FrozenSet<Permission>> Granted = new Dictionary<Role, FrozenSet<Permission>>
    {
        [Role.Owner] = Enum.GetValues<Permission>().ToFrozenSet(),
        [Role.Admin] = new[]
        {
            Permission.ReadOrganization, Permission.ManageOrganization, Permission.ManageMembers, Permission.ManageKeys,
            Permission.ReadKeys, Permission.ReadUsage, Permission.ReadBilling, Permission.ManageBilling, Permission.ReadAudit,
        }.ToFrozenSet(),
        [Role.Developer] = new[] { Permission.ReadOrganization, Permission.ManageKeys, Permission.ReadKeys, Permission.ReadUsage }.ToFrozenSet(),
        [Role.Billing] = new[] { Permission.ReadOrganization, Permission.ReadUsage, Permission.ReadBilling, Permission.ManageBilling }.ToFrozenSet(),
        [Role.Viewer] = new[] { Permission.ReadOrganization, Permission.ReadUsage }.ToFrozenSet(),
    }.ToFrozenDictionary();

    /// <summary>True when <paramref name="role"/> has <paramref name="permission"/>.</summary>
    public static bool Allows(Role role, Permission permission) => Granted[role].Contains(permission);

    /// <summary>The role's JSON name.</summary>
    public static string Name(Role role) => role.ToString().ToLowerInvariant();

    /// <summary>Parses a role name; throws a 400 naming <paramref name="field"/> otherwise.</summary>
    public static Role Parse(string? name, string field)
    {
        foreach (Role role in Enum.GetValues<Role>())
        {
            if (string.Equals(Name(role), name, StringComparison.Ordinal))
            {
                return role;
            }
        }

        throw Api.PlatformException.Invalid(field, $"'{name}' is not a role; use one of owner, admin, developer, viewer, billing.");
    }
}

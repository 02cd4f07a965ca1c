namespace Inference.Platform.Audit;

/// <summary>The security events the audit log records (stored as these strings).</summary>
public static class AuditAction
{
    public const string SignUp = "user.signed_up";
    public const string SignIn = "user.signed_in";
    public const string SignInFailed = "user.sign_in_failed";
    public const string LockedOut = "user.locked_out";
    public const string PasswordReset = "user.password_reset";
    public const string PasswordChanged = "user.password_changed";
    public const string TwoFactorEnabled = "user.2fa_enabled";
    public const string TwoFactorDisabled = "user.2fa_disabled";
    public const string RecoveryCodeUsed = "user.recovery_code_used";
    public const string RefreshTokenReused = "user.refresh_token_reused";
    public const string OrganizationCreated = "organization.created";
    public const string OrganizationDeleted = "organization.deleted";
    public const string MemberInvited = "member.invited";
    public const string MemberJoined = "member.joined";
    public const string RoleChanged = "member.role_changed";
    public const string MemberRemoved = "member.removed";
    public const string AppCreated = "app.created";
    public const string AppArchived = "app.archived";
    public const string AppPublished = "app.published";
    public const string AppRolledBack = "app.rolled_back";
    public const string AppUnpublished = "app.unpublished";
    public const string AppAccessChanged = "app.access_changed";
    public const string KeyCreated = "key.created";
    public const string KeyRevoked = "key.revoked";
    public const string PlanChanged = "plan.changed";
    public const string LimitsChanged = "limits.changed";
    public const string BudgetChanged = "budget.changed";
    public const string InvoiceIssued = "invoice.issued";
    public const string PaymentRecorded = "payment.recorded";
}

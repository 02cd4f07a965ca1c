using System.Text.Json;
using Inference.Gateway.Keys;
using Inference.Platform.Accounts;
using Inference.Platform.Billing;
using Inference.Platform.Organizations;

namespace Inference.Platform.Api;

/// <summary>Request and response bodies of the management API (JSON names are the snake_case of these).</summary>
public static class Contracts
{
    public sealed record SignUpRequest(string? Email, string? Password, string? Name);

    public sealed record TokenRequest(string? Email, string? Password, string? TotpCode, string? RecoveryCode);

    public sealed record RefreshRequest(string? RefreshToken);

    public sealed record PasswordResetRequest(string? Email);

    public sealed record PasswordResetConfirmRequest(string? Token, string? NewPassword);

    public sealed record CodeRequest(string? Code);

    public sealed record PasswordRequest(string? Password);

    public sealed record PasswordChangeRequest(string? CurrentPassword, string? NewPassword);

    public sealed record NameRequest(string? Name);

    public sealed record TemplateAppRequest(string? Name, string? Template);

    public sealed record PublishedRequest(int? Version);

    /// <summary>An app as the builder sees it. <see cref="AppKey"/> is the publishable key its pages embed (it can only run this app).</summary>
    public sealed record AppDesignResponse(string Id, string Name, string Slug, string Url, int? PublishedVersion, Apps.AppSpec Draft, Apps.AppAccess Access, string? AppKey, DateTimeOffset? ArchivedAt);

    public sealed record RoleRequest(string? Role);

    public sealed record InviteRequest(string? Email, string? Role);

    public sealed record TokenOnlyRequest(string? Token);

    public sealed record CreateKeyRequest(string? Name, JsonElement? Limits, DateTimeOffset? ExpiresAt, string? AppId);

    public sealed record PlanRequest(string? Plan);


    public sealed record BudgetRequest(long? MonthlyBudgetKrw, bool HardStop, string? WebhookUrl);

    public sealed record LimitsRequest(JsonElement? Limits);

    public sealed record PeriodRequest(string? Period);

    public sealed record PaymentRecordRequest(string? Reference);

    public sealed record BootstrapRequest(string? Token, string? Email, string? Password, string? Name);

    public sealed record TokenResponse(string AccessToken, string TokenType, long ExpiresIn, string RefreshToken, DateTimeOffset RefreshExpiresAt);

    public sealed record SessionResponse(string CsrfToken, DateTimeOffset ExpiresAt, User User);

    public sealed record TotpBeginResponse(string Secret, string OtpauthUri);

    public sealed record RecoveryCodesResponse(IReadOnlyList<string> RecoveryCodes);

    public sealed record OrganizationResponse(
        string Id, string Name, string Plan, Role? Role, Limits Limits, long? MonthlyTokenCap, long? MonthlyBudgetKrw, bool HardStop, DateTimeOffset CreatedAt);

    public sealed record KeyResponse(
        string Id, string Name, string Prefix, string KeyId, string Status, Limits? Limits, string CreatedBy, DateTimeOffset CreatedAt,
        DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, string? AppId, string? Secret = null);

    public sealed record PlanResponse(string Id, string Name, long MonthlyFeeKrw, long IncludedTokens, long OveragePer1kTokensKrw, Limits Limits, string PriorityClass);

    public sealed record UsageResponse(DateOnly From, DateOnly To, string? AppId, long Requests, long PromptTokens, long CompletionTokens, long BillableTokens, IReadOnlyList<UsageDay> Days);

    public sealed record BudgetResponse(
        long? MonthlyBudgetKrw, bool HardStop, string? WebhookUrl, string Period, long SpendKrw, IReadOnlyList<BudgetAlert> Alerts, string? WebhookSecret = null);

    public sealed record ListResponse<T>(IReadOnlyList<T> Data);

    public sealed record InvoiceRunResponse(string Period, IReadOnlyList<Invoice> Issued);
}

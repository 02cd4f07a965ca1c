namespace Inference.Platform.Email;

/// <summary>Sends the platform's mail (password resets, invitations). The default writes files under the data folder.</summary>
public interface IEmailSender
{
    Task SendAsync(string to, string subject, string body, CancellationToken ct);
}

namespace Inference.Platform.Billing;

/// <summary>How an organization pays an invoice: the manual-invoice provider by default, Stripe when configured.</summary>
public interface IPaymentProvider
{
    /// <summary>The provider's name in payments ("manual", "stripe").</summary>
    string Name { get; }

    /// <summary>Starts paying <paramref name="invoice"/>: what the payer needs next (instructions, or a client secret).</summary>
    Task<PaymentStart> StartAsync(Invoice invoice, CancellationToken ct);
}

/// <summary>What a payment start returns: the provider's reference, and instructions or a client secret for the payer.</summary>
public sealed record PaymentStart(string Provider, string? ProviderReference, string? Instructions, string? ClientSecret);

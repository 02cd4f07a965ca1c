namespace Inference.Platform.Billing;

/// <summary>Payment by bank transfer against the invoice number; a platform admin records the payment when it arrives.</summary>
public sealed class ManualInvoiceProvider : IPaymentProvider
{
    public string Name => "manual";

    public Task<PaymentStart> StartAsync(Invoice invoice, CancellationToken ct) => Task.FromResult(new PaymentStart(Name, invoice.Number,
        $"Transfer {Money.Format(invoice.TotalKrw)} with the reference {invoice.Number}; the invoice shows paid once the transfer is recorded.", null));
}
